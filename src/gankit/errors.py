"""The one exception type users see: a one-line message that names the problem and the fix."""


class GankitError(Exception):
    """A user-facing error. The CLI prints its message alone, without a traceback."""


class DivergenceError(GankitError):
    """Training produced a non-finite loss; the last good checkpoint is kept."""


class NonFiniteStateError(GankitError):
    """A state to be checkpointed holds NaN or infinite values (`names`: where)."""

    def __init__(self, names: list[str]) -> None:
        super().__init__(f"non-finite values in {', '.join(names[:3])}"
                         + (f" and {len(names) - 3} more" if len(names) > 3 else ""))
        self.names = names
