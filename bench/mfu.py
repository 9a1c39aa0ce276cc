"""Benchmark: model FLOPs utilisation of GAN training steps (issue #35).

For each --recipes entry, builds the trainer on --data, counts the FLOPs of one training step
(D steps and the G step, forward and backward, gankit.flops.FlopCount), times --steps steps
after --warmup, and divides the achieved FLOP/s by this machine's measured matmul peak in the
precision the step's matmuls run in (bf16 where autocast is on, else fp32). Writes
bench/results/mfu.json and its section of docs/benchmarks.md. About a minute per recipe.

    python bench/mfu.py
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from typing import Any

import torch
from common import RESULTS, bf16_units, command_line, commit, machine, publish

from gankit.flops import FlopCount, peak_matmul_flops
from gankit.train import GANTrainer, make_config


def measure(recipe: str, data: str, steps: int, warmup: int, device: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        trainer = GANTrainer(make_config({"recipe": recipe, "data": data, "device": device}),
                             folder, progress=False, tensorboard=False)
        for _ in range(warmup):
            trainer.train_step()
        with FlopCount() as flops:
            trainer.train_step()
        if trainer.device.type == "cuda":
            torch.cuda.synchronize()
        started = time.perf_counter()
        for _ in range(steps):
            trainer.train_step()
        if trainer.device.type == "cuda":
            torch.cuda.synchronize()
        seconds = (time.perf_counter() - started) / steps
        cfg = trainer.config
        return {"recipe": recipe, "flops_per_step": flops.total, "seconds_per_step": seconds,
                "images_per_s": cfg.batch_size * cfg.d_steps / seconds,
                "achieved_flops": flops.total / seconds, "bf16": trainer.speed.amp,
                "device": str(trainer.device)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipes", default="default,r3gan,dcgan")
    parser.add_argument("--data", default="fashion-mnist")
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args(argv)
    rows = [measure(r, args.data, args.steps, args.warmup, args.device)
            for r in args.recipes.split(",")]
    device = rows[0]["device"].split(":")[0]
    peaks = {dtype: peak_matmul_flops(getattr(torch, dtype), rows[0]["device"])
             for dtype in ("float32", "bfloat16")}
    for row in rows:
        row["peak_flops"] = peaks["bfloat16" if row["bf16"] else "float32"]
        row["mfu"] = row["achieved_flops"] / row["peak_flops"]
        print(f"[{row['recipe']}] {row['flops_per_step'] / 1e9:.2f} GFLOP/step, "
              f"{row['images_per_s']:.0f} images/s, MFU {100 * row['mfu']:.1f}%", flush=True)
    m = machine()
    result = {"benchmark": "mfu", "machine": m, "commit": commit(),
              "command": command_line("mfu.py", argv), "data": args.data,
              "peak_flops": peaks, "recipes": rows,
              "headline": {f"mfu_{r['recipe']}": r["mfu"] for r in rows}
              | {f"images_per_s_{r['recipe']}": r["images_per_s"] for r in rows}}
    table = "\n".join([
        "## Model FLOPs utilisation of a training step", "",
        f"{m['cpu']} ({m['cores']} cores, {bf16_units(m)}), {device}, torch {m['torch']}; "
        f"{args.data}, each recipe's own batch; {args.steps} timed steps after {args.warmup}. "
        f"Measured matmul peak: fp32 {peaks['float32'] / 1e9:.0f} GFLOP/s, bf16 "
        f"{peaks['bfloat16'] / 1e9:.0f} GFLOP/s. Command: `{result['command']}`.", "",
        "| recipe | GFLOP per step | images/s | achieved GFLOP/s | precision | MFU |",
        "|---|---|---|---|---|---|",
        *[f"| {r['recipe']} | {r['flops_per_step'] / 1e9:.2f} | {r['images_per_s']:.0f} | "
          f"{r['achieved_flops'] / 1e9:.1f} | {'bf16' if r['bf16'] else 'fp32'} | "
          f"{100 * r['mfu']:.1f}% |" for r in rows], ""])
    publish("mfu", result, RESULTS / "mfu.json", table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
