"""GAN evaluation: feature extractors, scores, cached reference features, `gankit eval`."""

from gankit.metrics.evaluate import (
    DEFAULT_METRICS,
    METRICS,
    compare_scores,
    evaluate_run,
    read_scores,
)

__all__ = ["DEFAULT_METRICS", "METRICS", "compare_scores", "evaluate_run", "read_scores"]
