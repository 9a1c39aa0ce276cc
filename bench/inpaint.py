"""Benchmark: image completion on Fashion-MNIST test images, every method and mask side by side.

Methods: mean fill, biharmonic (scikit-image), Telea (OpenCV, when importable), latent search
in an unconditional GAN (Yeh et al. 2017), the completion GAN and its L2-only ablation. Masks:
center 14x14, random boxes, strokes, bottom half. Measures PSNR/SSIM over the hole and the
whole image, L1 over the hole, a recogniser's accuracy on clean / masked / completed images,
domain FID of completed vs clean images, and images/s. Writes bench/results/inpaint.json and
its section of docs/benchmarks.md. Models are trained once into --work and reused.

    nohup python bench/inpaint.py > bench/inpaint.log 2>&1 &
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import torch
from common import RESULTS, ROOT, command_line, commit, machine, publish, share_cache

from gankit.data import ImageDataset, load_dataset, to_uint8
from gankit.inpaint import make_masks, telea_available
from gankit.inpaint.api import METHODS
from gankit.inpaint.cgan import CompletionConfig, train_completion
from gankit.inpaint.quality import l1, psnr, ssim
from gankit.metrics import scores
from gankit.metrics.domain import DomainFeatures
from gankit.recognize import accuracy
from gankit.train import GANTrainer, make_config
from gankit.train.method_run import steps_done
from gankit.train.rundir import RunDir

MASKS = ("center", "box", "strokes", "half")


def gan_run(args: argparse.Namespace) -> Path:
    """--gan-run if given, else the default recipe from bench/gan_quality.py when it is there
    (same recipe and budget), else a fresh run of --gan-minutes."""
    if args.gan_run is not None:
        return args.gan_run
    shared = (ROOT / "bench" / "work" / "gan_quality" / f"budget{args.gan_minutes:g}-seed0"
              / "default")
    if (shared / "bench_train.json").is_file():
        return shared
    run = args.work / f"gan-{args.gan_minutes:g}min"
    if not RunDir(run).checkpoint.is_file():
        config = make_config({"recipe": "default", "data": "fashion-mnist",
                              "minutes": args.gan_minutes, "steps": 10**9,
                              "sample_every": 5000, "checkpoint_every": 5000})
        GANTrainer(config, run, progress=False).fit()
    return run


def completion_run(args: argparse.Namespace, adv_weight: float) -> Path:
    run = args.work / f"cgan-adv{adv_weight:g}-{args.cgan_steps}steps"
    if steps_done(run, "completion") < args.cgan_steps:
        train_completion(CompletionConfig(steps=args.cgan_steps, adv_weight=adv_weight), run,
                         progress=False)
    return run


def evaluate(method: str, run: Path, images: torch.Tensor, labels: torch.Tensor,
             mask: torch.Tensor, recogniser, domain: DomainFeatures,
             clean_features: torch.Tensor, classes) -> dict[str, Any]:
    masked = torch.where(mask.expand_as(images).bool(), 0.0, images)
    started = time.monotonic()
    completed = METHODS.get(method)(run, masked, mask, "auto").cpu()
    seconds = time.monotonic() - started
    whole = torch.ones_like(mask)
    data = ImageDataset("completed", "test", completed, labels, classes)
    return {"n": len(images),
            "psnr_hole": psnr(completed, images, mask),
            "psnr_whole": psnr(completed, images, whole),
            "ssim_hole": ssim(completed, images, mask),
            "ssim_whole": ssim(completed, images, whole),
            "l1_hole": l1(completed, images, mask),
            "accuracy_completed": accuracy(recogniser, data),
            "domain_fid": scores.fid(clean_features, domain(to_uint8(completed))),
            "images_per_s": round(len(images) / max(seconds, 1e-9), 2)}


def markdown(result: dict[str, Any]) -> str:
    lines = ["## Image completion (Fashion-MNIST test images)", "",
             f"{result['machine']['cpu']} ({result['machine']['cores']} cores); {result['n']} "
             f"images per mask ({result['latent_n']} for `latent`, which is slow on a CPU); "
             "PSNR in dB on the [0, 1] scale; accuracy of a recogniser trained on the full "
             f"train split (clean test images: {100 * result['accuracy_clean']:.2f}%). "
             f"Command: `{result['command']}`.", ""]
    for kind, entry in result["masks"].items():
        lines += [f"**{kind}** (masked accuracy {100 * entry['accuracy_masked']:.2f}%)", "",
                  "| method | PSNR hole | PSNR whole | SSIM hole | SSIM whole | L1 hole | "
                  "accuracy % | domain FID | images/s |", "|---|---|---|---|---|---|---|---|---|"]
        for method, m in entry["methods"].items():
            lines.append(f"| {method} | {m['psnr_hole']:.2f} | {m['psnr_whole']:.2f} | "
                         f"{m['ssim_hole']:.3f} | {m['ssim_whole']:.3f} | {m['l1_hole']:.4f} | "
                         f"{100 * m['accuracy_completed']:.2f} | {m['domain_fid']:.2f} | "
                         f"{m['images_per_s']:g} |")
        lines.append("")
    h = result["headline"]
    recovered = ((h["accuracy_completed"] - h["accuracy_masked"])
                 / max(h["accuracy_clean"] - h["accuracy_masked"], 1e-9))
    gain = h["psnr_hole_best"] - h["psnr_hole_biharmonic"]
    lines += [f"Center 14×14: best gankit method `{h['best_method']}` "
              f"{h['psnr_hole_best']:.2f} dB vs biharmonic {h['psnr_hole_biharmonic']:.2f} dB "
              f"(target +3 dB: {'met' if gain >= 3 else 'not met'}); "
              f"it recovers {100 * recovered:.0f}% of the accuracy the mask took "
              f"(target 80%: {'met' if recovered >= 0.8 else 'not met'}).", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="test images per mask")
    parser.add_argument("--latent-n", type=int, default=100, help="images for latent search")
    parser.add_argument("--gan-minutes", type=float, default=30.0)
    parser.add_argument("--gan-run", type=Path, help="unconditional run for latent search")
    parser.add_argument("--cgan-steps", type=int, default=1500)
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / "work" / "inpaint")
    parser.add_argument("--out", type=Path, default=RESULTS / "inpaint.json")
    args = parser.parse_args(argv)
    share_cache()

    train = load_dataset("fashion-mnist", "train")
    test = load_dataset("fashion-mnist", "test")
    images, labels = test.images[: args.n], test.labels[: args.n]
    # One recogniser for accuracy and for domain FID: trained once on the full train split
    # and cached, like `gankit eval` does.
    domain = DomainFeatures(train, test)
    recogniser = domain.model
    clean_features = domain(to_uint8(images))
    runs = {"latent": gan_run(args), "cgan": completion_run(args, 0.01),
            "cgan-l2": completion_run(args, 0.0)}
    methods = ["mean", "biharmonic"] + (["telea"] if telea_available() else []) + list(runs)
    clean = ImageDataset("clean", "test", images, labels, test.classes)
    command = command_line("inpaint.py", argv)
    result: dict[str, Any] = {"benchmark": "inpaint", "machine": machine(), "commit": commit(),
                              "command": command,
                              "n": args.n, "latent_n": args.latent_n,
                              "gan_run": str(runs["latent"]), "cgan_steps": args.cgan_steps,
                              "accuracy_clean": accuracy(recogniser, clean), "masks": {}}
    for kind in MASKS:
        mask = make_masks(kind, args.n, 28, 28, seed=0)
        masked = ImageDataset("masked", "test", images * (1 - mask), labels, test.classes)
        entry = {"accuracy_masked": accuracy(recogniser, masked), "methods": {}}
        for method in methods:
            n = args.latent_n if method == "latent" else args.n
            run = runs.get(method, runs["cgan"])
            entry["methods"][method] = evaluate(
                method.split("-")[0], run, images[:n], labels[:n], mask[:n], recogniser,
                domain, clean_features[:n], test.classes)
            print(f"[{kind}] {method}: {entry['methods'][method]}", flush=True)
        result["masks"][kind] = entry
    center = result["masks"]["center"]
    gankit_methods = {m: v for m, v in center["methods"].items() if m in runs}
    best = max(gankit_methods, key=lambda m: gankit_methods[m]["psnr_hole"])
    result["headline"] = {
        "psnr_hole_best": gankit_methods[best]["psnr_hole"],
        "psnr_hole_biharmonic": center["methods"]["biharmonic"]["psnr_hole"],
        "best_method": best, "accuracy_clean": result["accuracy_clean"],
        "accuracy_masked": center["accuracy_masked"],
        "accuracy_completed": gankit_methods[best]["accuracy_completed"]}
    publish("inpaint", result, args.out, markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
