"""Experiments that answer a question end to end (several trainings, statistics, a report)."""
