"""Optional dependencies: `gankit[serve]` (the web app), `gankit[report]` (HTML reports),
`gankit[export]` (ONNX), `gankit[robust]` (AutoAttack through ART) and `gankit[explain]`
(saliency through Captum)."""

from __future__ import annotations

import importlib
from types import ModuleType

from gankit.errors import GankitError


def require(module: str, extra: str) -> ModuleType:
    """Import `module`, or say in one line which extra of gankit installs it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise GankitError(f"this needs {module.split('.')[0]}, which comes with gankit's "
                          f"'{extra}' extra: pip install 'gankit[{extra}]'") from None
