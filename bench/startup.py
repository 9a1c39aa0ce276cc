"""Benchmark: how long a `gankit` command takes to start, in a fresh process each time.

Times `gankit --help` (target: under 1.5 s on 2 cores), `gankit train --help` (imports the
training stack, torch included) and `gankit datasets`, --repeats times each, and reports the
median and the slowest wall time. Writes bench/results/startup.json and its section of
docs/benchmarks.md.

    python bench/startup.py
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from common import RESULTS, command_line, commit, machine, publish

COMMANDS = {"gankit --help": ["--help"], "gankit train --help": ["train", "--help"],
            "gankit datasets": ["datasets"]}
TARGET_SECONDS = 1.5  # `gankit --help` (#38)


def wall_seconds(args: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "gankit", *args], check=True,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--out", type=Path, default=RESULTS / "startup.json")
    parser.add_argument("--note", default="", help="what else the machine ran meanwhile")
    args = parser.parse_args(argv)
    wall_seconds(["--help"])  # the first run reads files into the page cache
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(args.repeats):  # interleaved, so a busy moment touches every command
        for name, command in COMMANDS.items():
            times[name].append(round(wall_seconds(command), 3))
    rows: dict[str, Any] = {name: {"median_s": statistics.median(t), "max_s": max(t),
                                   "runs_s": t} for name, t in times.items()}
    help_s = rows["gankit --help"]["median_s"]
    headline = {"help_median_s": help_s, "help_max_s": rows["gankit --help"]["max_s"],
                "target_s": TARGET_SECONDS, "met": help_s < TARGET_SECONDS,
                "train_help_median_s": rows["gankit train --help"]["median_s"]}
    result = {"benchmark": "startup", "machine": machine(), "commit": commit(),
              "command": command_line("startup.py", argv), "note": args.note,
              "commands": rows, "headline": headline}
    m = result["machine"]
    lines = ["## Command start-up", "",
             f"{m['cpu']} ({m['cores']} cores), commit {result['commit']}, "
             f"`{result['command']}`: wall seconds of a fresh `python -m gankit` process, "
             f"{args.repeats} runs each. `gankit --help` builds only the command table; a "
             "command imports its own modules (torch among them) when it runs."
             + (f" {args.note}" if args.note else ""), "",
             "| command | median s | slowest s |", "|---|---|---|"]
    lines += [f"| `{name}` | {r['median_s']:.2f} | {r['max_s']:.2f} |" for name, r in rows.items()]
    publish("startup", result, args.out, "\n".join(lines) + "\n")
    print(json.dumps(headline, indent=2))
    return 0 if headline["met"] else 1


if __name__ == "__main__":
    sys.exit(main())
