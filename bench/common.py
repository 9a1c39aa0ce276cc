"""What every benchmark records and how it writes its part of docs/benchmarks.md."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch

from gankit.options import scalar_type
from gankit.record import machine, source_commit
from gankit.train import GANTrainer, make_config

ROOT = Path(__file__).resolve().parents[1]
TABLE = ROOT / "docs" / "benchmarks.md"
RESULTS = ROOT / "bench" / "results"
CACHE = ROOT / "bench" / "work" / "cache"
MNIST10K = f"folder:{(ROOT.parent / 'shared' / 'datasets' / 'mnist-10k').resolve()}"


def short(dataset: str) -> str:
    """A dataset's name in tables: the folder dataset is mnist-10k."""
    return "mnist-10k" if dataset.startswith("folder:") else dataset


def bf16_units(m: dict[str, Any]) -> str:
    """The CPU's bf16 hardware as tables name it (records before 2026-12-07 know only AMX)."""
    if m.get("amx"):
        return "AMX"
    if "avx512_bf16" not in m:
        return "no AMX"
    return "AVX512-BF16" if m["avx512_bf16"] else "no AMX or AVX512-BF16"


def share_cache() -> None:
    """Point gankit's cache (reference Inception features, the domain recogniser) at one folder
    that every benchmark uses, so each is computed once per machine and survives resumes."""
    os.environ.setdefault("XDG_CACHE_HOME", str(CACHE))


def add_only(parser: argparse.ArgumentParser, choices: Iterable[str]) -> None:
    """The --only option: which of a benchmark's named candidates to run (default: all)."""
    parser.add_argument("--only", default=",".join(choices),
                        help="comma-separated subset of: " + ", ".join(choices))


def add_variants(parser: argparse.ArgumentParser, example: str) -> None:
    """The repeatable --variant option of a screen: a name and the settings it changes."""
    parser.add_argument("--variant", action="append", default=[], metavar="'NAME KEY=VALUE ...'",
                        help="a variant to screen: its name, then the config fields it changes, "
                             f"space-separated (e.g. {example!r}); repeat for several")


def parse_variants(parser: argparse.ArgumentParser, values: list[str], config: type,
                   allowed: Iterable[str] | None = None) -> dict[str, dict[str, Any]]:
    """Each --variant as name -> overrides, every value read as its field's type in the
    dataclass `config` (true/false for switches), or a parser error naming the problem. Only
    `allowed` fields may change when it is given."""
    fields = {f.name for f in dataclasses.fields(config)}
    permitted = fields if allowed is None else set(allowed)
    variants: dict[str, dict[str, Any]] = {}
    for value in values:
        name, *settings = value.split() or [""]
        if not name or "=" in name or name in variants:
            parser.error(f"--variant {value!r} needs a new name first, then KEY=VALUE settings")
        overrides: dict[str, Any] = {}
        for setting in settings:
            key, _, text = setting.partition("=")
            if key not in permitted:
                parser.error(f"--variant {name}: {key!r} is not a setting a variant may change; "
                             f"choose from {', '.join(sorted(permitted))}")
            kind = scalar_type(config, key)
            try:
                overrides[key] = (_switch(text) if kind is bool else kind(text))
            except ValueError:
                parser.error(f"--variant {name}: {key} must be {kind.__name__}, got {text!r}")
        variants[name] = overrides
    return variants


def _switch(text: str) -> bool:
    if text.lower() not in ("true", "false"):
        raise ValueError(text)
    return text.lower() == "true"


def add_timed_run_flags(parser: argparse.ArgumentParser, name: str, minutes: float,
                        n: int) -> None:
    """The flags of a benchmark that trains GANs for a wall-clock budget, one thread count and
    several seeds, keeping finished runs in --work: --minutes --threads --n --seeds --work
    --out --table."""
    parser.add_argument("--minutes", type=float, default=minutes, help="training budget per run")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--n", type=int, default=n, help="generated images per run")
    parser.add_argument("--seeds", type=lambda v: [int(s) for s in v.split(",")], default=[0],
                        help="comma-separated training seeds")
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / "work" / name)
    parser.add_argument("--out", type=Path, default=RESULTS / f"{name}.json")
    parser.add_argument("--table", type=Path, default=TABLE)


def parse_only(parser: argparse.ArgumentParser, value: str, choices: Iterable[str],
               what: str) -> list[str]:
    """The names --only lists, or a parser error that names the unknown ones and the choices."""
    names = [n for n in value.split(",") if n]
    unknown = [n for n in names if n not in choices]
    if unknown:
        parser.error(f"unknown {what} {unknown}; choose from {', '.join(choices)}")
    return names


def add_workers(parser: argparse.ArgumentParser) -> None:
    """--workers, and the --cases-only flag that fan_out gives its child processes."""
    parser.add_argument("--workers", type=int, default=2,
                        help="datasets run side by side, one process and one thread each; "
                             "1 runs them in turn in this process")
    parser.add_argument("--cases-only", action="store_true",
                        help="compute the per-dataset results in --work, write no JSON or table")


def fan_out(script: str, argv: list[str] | None, todo: list[str], workers: int,
            work: Path) -> dict[str, Any] | None:
    """Run each dataset of `todo` (those whose results are not yet in --work) as its own process
    (`--datasets D --cases-only`, one torch thread, so that each worker has a core to itself),
    at most `workers` at a time, each logging to work/<dataset>.log; the parent then finds every
    result in --work. Returns the wall-clock record (also kept in work/fan_out.json, so that a
    rebuild from finished results keeps it), or None when the datasets run in this process."""
    stored = work / "fan_out.json"
    if workers < 2 or len(todo) < 2:
        return json.loads(stored.read_text()) if not todo and stored.is_file() else None
    base = list(sys.argv[1:] if argv is None else argv)
    started, pending, running = time.monotonic(), list(todo), []
    environment = {**os.environ, "OMP_NUM_THREADS": "1"}
    while pending or running:
        while pending and len(running) < workers:
            dataset = pending.pop(0)
            command = [sys.executable, str(ROOT / "bench" / script), *base,
                       "--datasets", dataset, "--workers", "1", "--cases-only"]
            with (work / f"{short(dataset)}.log").open("a") as log:  # the child keeps its copy
                running.append((dataset, subprocess.Popen(command, stdout=log, stderr=log,
                                                          env=environment)))
            print(f"[{short(dataset)}] started, log {log.name}", flush=True)
        time.sleep(1)
        for dataset, process in list(running):
            if process.poll() is not None:
                running.remove((dataset, process))
                if process.returncode:
                    for _, other in running:
                        other.terminate()
                    raise SystemExit(f"{script}: the {short(dataset)} worker failed (exit "
                                     f"{process.returncode}); see {work / short(dataset)}.log")
                print(f"[{short(dataset)}] finished", flush=True)
    record = {"wall_minutes": round((time.monotonic() - started) / 60, 1), "workers": workers,
              "datasets": [short(d) for d in todo]}
    stored.write_text(json.dumps(record))
    return record


def duration_sentence(result: dict[str, Any]) -> str:
    """How long the full run took: the work summed over datasets and, when they ran side by
    side, the wall clock, which is what the 90-minute budget is about."""
    text = f"Time: {result['minutes']} min of work summed over the cases"
    if (wall := result.get("wall")) is not None:
        text += (f"; {wall['wall_minutes']} min of wall clock for {', '.join(wall['datasets'])} "
                 f"side by side ({wall['workers']} processes, one torch thread each)")
    return text + "."


def commit() -> str:
    return source_commit() or "unknown"


def command_line(script: str, argv: list[str] | None) -> str:
    """How this benchmark was run, quoted so that it can be pasted into a shell."""
    return shlex.join(["python", f"bench/{script}", *(sys.argv[1:] if argv is None else argv)])


def commands_sentence(rows: Iterable[dict[str, Any]]) -> str:
    """The commands that made a table's rows, each once and in order: a table merged from
    several runs names every one of them."""
    commands = list(dict.fromkeys(row["command"] for row in rows))
    return (("Command: " if len(commands) == 1 else "Commands: ")
            + ", then ".join(f"`{c}`" for c in commands) + ".")


def write_section(name: str, table: str, path: Path = TABLE) -> None:
    """Replace benchmark `name`'s section of docs/benchmarks.md, keeping the others."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    block = f"{start}\n{table}{end}"
    text = path.read_text() if path.is_file() else "# Benchmarks\n\n"
    if start in text:
        head, rest = text.split(start, 1)
        text = head + block + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def publish(name: str, result: dict[str, Any], out: Path, table: str | None = None,
            table_path: Path = TABLE) -> None:
    """Write `result` as JSON to `out` and, when given, `table` as the benchmark's section of
    docs/benchmarks.md."""
    if table is not None:
        write_section(name, table, table_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}" + ("" if table is None else f" and {table_path}"))


def finished(done: Path) -> dict[str, Any] | None:
    """The record of a finished phase (its `done` JSON file), or None after clearing what a
    cut-off attempt left in the phase's folder, so that it starts over cleanly."""
    if done.is_file():
        print(f"[{done.parent.name}] already done, reusing {done}", flush=True)
        return json.loads(done.read_text())
    if done.parent.exists():
        shutil.rmtree(done.parent)
    return None


def train_gan_once(run_dir: Path, options: dict[str, Any]) -> dict[str, Any]:
    """Train a GAN run with gankit's trainer, once: a finished run (its bench_train.json) is
    reused; one that was cut off starts over, since a budget is spent in one sitting.
    Returns the training record: steps, time, images/s, precision, load, machine and commit.
    A finished run trained with other settings is refused rather than reused."""
    done = run_dir / "bench_train.json"
    config = make_config(options)
    if (record := finished(done)) is not None:
        wanted = config.to_dict()
        changed = [f"{k}={v}" for k, v in record["config"].items()
                   if k in wanted and v != wanted[k]]
        if changed:
            raise SystemExit(f"{run_dir} was trained with other settings ({', '.join(changed)});"
                             " give the run a new name or use another --work")
        return record
    print(f"[{run_dir.name}] training recipe {config.recipe!r}", flush=True)
    load_before = os.getloadavg()[0]
    trainer = GANTrainer(config, run_dir, progress=False)
    summary = trainer.fit()
    record = {"recipe": config.recipe, "config": config.to_dict(), "steps": summary.steps,
              "bf16": trainer.speed.amp,
              "seconds": round(summary.seconds, 1),
              "images_per_s": round(summary.images_per_s, 1),
              "load_average_1min_start_end": [round(load_before, 2),
                                              round(os.getloadavg()[0], 2)],
              "commit": commit(), "machine": machine(),
              "samples": str(summary.samples.relative_to(ROOT))
              if summary.samples.is_relative_to(ROOT) else str(summary.samples)}
    done.write_text(json.dumps(record, indent=2))
    print(f"[{run_dir.name}] {summary.steps} steps, {summary.images_per_s:.0f} images/s",
          flush=True)
    return record
