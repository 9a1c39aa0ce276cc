"""Reader for the IDX files of MNIST and Fashion-MNIST (LeCun et al.), gzipped or not."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from gankit.errors import GankitError

_UBYTE = 0x08


def read_idx(path: Path) -> np.ndarray:
    """Return the array stored in an IDX file of unsigned bytes (`.gz` is decompressed)."""
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError, gzip.BadGzipFile) as err:
        raise GankitError(f"cannot read IDX file {path}: {err}; re-install the data") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != _UBYTE:
        raise GankitError(f"{path} is not an IDX file of unsigned bytes; re-install the data")
    ndim = raw[3]
    header = 4 + 4 * ndim
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    if len(raw) != header + int(np.prod(shape)):
        raise GankitError(f"{path} is truncated (shape {shape} in its header); re-install the data")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)
