"""The one exception type users see: a one-line message that names the problem and the fix."""


class GankitError(Exception):
    """A user-facing error. The CLI prints its message alone, without a traceback."""


class DivergenceError(GankitError):
    """Training produced a non-finite loss; the last good checkpoint is kept."""
