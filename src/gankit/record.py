"""What a result was made with: gankit's version and source commit, torch, Python and the
hardware. Each run's run.json carries it, and every benchmark's JSON; a number means
little without the machine it was measured on."""

from __future__ import annotations

import functools
import os
import platform
import subprocess
import time
from pathlib import Path
from typing import Any

import torch

SOURCE = Path(__file__).resolve().parents[2]  # the checkout an editable install runs from


@functools.cache
def source_commit() -> str | None:
    """The short git commit of gankit's own source (a `+` marks uncommitted changes), or
    None for an installed copy outside git."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=SOURCE, text=True, capture_output=True,
                              check=True, timeout=10).stdout.strip()
    try:
        if not (SOURCE / ".git").exists():
            return None
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
        return git("rev-parse", "--short", "HEAD") + ("+" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None


@functools.cache
def machine() -> dict[str, Any]:
    """The host. Machines lent here share one model name ("AMD EPYC") across CPU generations
    whose speeds differ by half, so the family/model numbers and the vector instructions torch
    uses (AVX2 or AVX512) are recorded too, and whether the CPU has AMX tiles or AVX512-BF16
    (which decide whether `--amp auto` trains in bf16)."""
    info: dict[str, str] = {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            info.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    cpu = info.get("model name") or platform.processor() or platform.machine()
    return {"cpu": cpu, "cpu_family_model": f"{info.get('cpu family', '?')}/"
                                            f"{info.get('model', '?')}",
            "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "amx": torch.cpu._is_amx_tile_supported(),
            "avx512_bf16": torch.cpu._is_avx512_bf16_supported(),
            "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "torch": torch.__version__, "python": platform.python_version(),
            "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}


def run_record(started: str | None = None) -> dict[str, Any]:
    """The record a run keeps in run.json, rewritten at each save: `started` is kept from the
    first save, so `saved` - `started` spans the training (pauses between resumes included)."""
    from gankit import __version__

    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return {"gankit": __version__, "commit": source_commit(), **machine(),
            "started": started or now, "saved": now}
