"""A benchmark's result file (bench/results/NAME.json) as a report: its verdict sentence, its
headline numbers and how it was run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gankit.errors import GankitError
from gankit.report_page import RunReport, Section, Table, fmt, read_json


def flatten(tree: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    rows = []
    for key, value in tree.items():
        if isinstance(value, dict):
            rows += flatten(value, f"{prefix}{key} / ")
        else:
            rows.append((f"{prefix}{key}", value))
    return rows


def benchmark_report(path: Path) -> RunReport:
    """A benchmark's result file (bench/results/NAME.json): its verdict, its headline numbers
    and how it was run."""
    result = read_json(path)
    if not isinstance(result, dict) or "benchmark" not in result:
        raise GankitError(f"{path} is not a gankit benchmark result (no 'benchmark' field); "
                          "pass a run folder or a bench/results/*.json file")
    verdict = result.get("verdict")
    text = verdict if isinstance(verdict, str) else "This benchmark stores no verdict sentence."
    machine = result.get("machine", {})
    how = [["command", fmt(result.get("command"))], ["commit", fmt(result.get("commit"))],
           ["machine", f"{machine.get('cpu', '')} ({machine.get('cores', '?')} cores)"],
           ["minutes", fmt(result.get("minutes"))]]
    headline = [[k, fmt(v)] for k, v in flatten(result.get("headline", {}))]
    return RunReport(path.stem, str(path), [
        Section(f"Verdict of the {result['benchmark']} benchmark", text=text, tables=[
            Table("headline", ["number", "value"], headline)] if headline else []),
        Section("How it was run", tables=[Table("run", ["field", "value"], how)])])
