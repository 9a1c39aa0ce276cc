"""Does GAN augmentation help a recogniser, against the best a user could do without a GAN?
The whole experiment behind `gankit augment`.

For each seed: draw `per_class` labelled images per class from the train split and hold out
`validation_share` of each class for validation; everything trains on the rest (the fit split),
the GAN included. Then train, with one recogniser and one budget of updates:

- `real`, `classical`, `strong`: no augmentation, shifts, and shifts + RandAugment + random
  erasing (gankit.recognize.augment); these three are the teachers below;
- `ensemble`: their mean softmax (Lakshminarayanan et al. 2017), which trains nothing;
- `distilled`: one recogniser that also learns, on a pool of augmented copies of the fit
  images, targets blending each copy's label with the teachers' softened mean prediction
  (knowledge distillation, Hinton et al. 2015), with the augmentation that scored best on
  validation among the three;
- `longer`: that augmentation again, given as many updates as the GAN pipeline costs beyond
  the teachers (GAN training plus the student), so that the GAN is compared at equal compute;
- `gan`: the same student as `distilled` on a pool of images from a class-conditional GAN
  trained on the fit split with DiffAugment (Zhao et al. 2020) and the mode-seeking term
  (Mao et al. 2019), the set-up of Antoniou et al. 2017 ("Data Augmentation Generative
  Adversarial Networks") scaled to a CPU.

Every recogniser is scored once on validation and once on the test split; the verdict
(gankit.experiments.verdict) chooses by validation alone. The tasks of all seeds run side by
side on worker processes as soon as what they need is done (gankit.taskgraph).
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from gankit.device import select_device
from gankit.errors import GankitError
from gankit.experiments.augment_config import (
    CONDITIONS,
    AugmentConfig,
    SeedData,
    check,
    seed_data,
)
from gankit.experiments.augment_tasks import (
    augmented_copies,
    condition_file,
    load_seed_data,
    seed_record,
    seed_tasks,
    supplement,
)
from gankit.experiments.verdict import (
    GAN_CONDITIONS,
    NON_GAN_CONDITIONS,
    markdown_table,
    verdict,
)
from gankit.io import atomic_write
from gankit.plots import interval_bars_png
from gankit.stats import summarize
from gankit.taskgraph import Task, run_graph

__all__ = ["CONDITIONS", "AugmentConfig", "SeedData", "augmented_copies", "check",
           "condition_summaries", "resolve_workers", "reuse_baselines", "run_experiment",
           "seed_data", "supplement"]
SETTINGS = "settings.json"
SEED_RECORD = "seed.json"  # a finished seed's result, which a resumed experiment reuses
# Settings that only the GAN and its pool read: a change to them leaves the non-GAN conditions'
# recognisers as they were (`longer` too, unless its budget, which counts the GAN's steps, moves).
GAN_SIDE = ("gan_recipe", "gan_lr", "gan_width", "gan_diffaugment", "gan_mode_seeking",
            "filter_by_confidence", "gan_steps")


def resolve_workers(config: AugmentConfig) -> int:
    """`config.workers`, or by default one per CPU thread (torch's) on the CPU, where
    trainings side by side on one thread each beat one after another on all (taskgraph), and
    one on a GPU."""
    if config.workers is not None:
        return config.workers
    if select_device(config.device).type != "cpu":
        return 1
    return max(1, min(torch.get_num_threads(), 4 * config.seeds))  # 4 tasks a seed start ready


def run_experiment(config: AugmentConfig, out: str | Path, *,
                   progress: bool = False) -> dict[str, Any]:
    """Run every seed and write augment.json, augment.md and augment.png into `out`."""
    check(config)
    config = replace(config, workers=resolve_workers(config))
    out = Path(out)
    started = time.monotonic()
    load_seed_data(config, 0)  # bad data or sizes fail here, before any task starts
    records: dict[int, dict[str, Any]] = {}
    reused: list[int] = []
    unfinished: dict[int, int] = {}
    tasks: list[Task] = []

    def seed_done(seed: int) -> None:
        record_file = out / f"seed{seed}" / SEED_RECORD
        if seed in reused:  # its record is on disk already
            record = records[seed] = json.loads(record_file.read_text())
        else:
            record = records[seed] = seed_record(config, seed, out / f"seed{seed}")
            atomic_write(record_file, json.dumps(record, indent=2).encode())
        print(f"seed {seed}{' (reused)' if seed in reused else ''}, test: "
              + ", ".join(f"{c} {a:.2f}%" for c, a in record["accuracy"].items()), flush=True)

    for seed in range(config.seeds):
        folder = out / f"seed{seed}"
        if prepare_seed(config, folder):
            reused.append(seed)
            seed_done(seed)
            continue
        todo = seed_tasks(config, seed, folder, progress and config.workers == 1)
        tasks += todo
        unfinished[seed] = len(todo)
        if not todo:  # every file written, only the record missing
            seed_done(seed)

    def task_done(task: Task, summary: str) -> None:
        seed, name = task.key
        print(f"seed {seed} {name}: {summary}", flush=True)
        unfinished[seed] -= 1
        if unfinished[seed] == 0:
            seed_done(seed)

    run_graph(tasks, config.workers, task_done)
    seeds = [records[s] for s in range(config.seeds)]
    # A resumed experiment's cost counts the reused seeds' own time, not only this call's:
    # their tasks' summed seconds, more than the wall clock when workers overlapped them.
    seconds = time.monotonic() - started + sum(sum(records[s]["seconds"].values())
                                               for s in reused)
    result = {"experiment": "gan_augmentation", "config": config.to_dict(),
              "validation_per_class": config.validation_per_class(),
              "conditions": condition_summaries(seeds),
              "verdict": verdict(seeds, config.data, config.per_class), "seeds": seeds,
              "reused_seeds": reused, "minutes": round(seconds / 60, 2)}
    atomic_write(out / "augment.json", json.dumps(result, indent=2).encode())
    atomic_write(out / "augment.md", markdown_table(result).encode())
    tests = [result["conditions"][c]["test"] for c in CONDITIONS]
    interval_bars_png(list(CONDITIONS), [s["mean"] for s in tests],
                      [tuple(s["ci95"]) for s in tests], out / "augment.png",
                      title=f"{config.data}, {config.per_class} per class, {config.seeds} "
                            f"seeds: test accuracy, mean and 95% interval\n"
                            f"{result['verdict']['sentence']}",
                      ylabel="test accuracy (%)",
                      colors=["#e6550d" if c in GAN_CONDITIONS else "#6baed6"
                              for c in CONDITIONS])
    return result


def condition_summaries(seeds: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per condition: validation and test accuracy over seeds, and minutes a seed, its own
    and with what it needs."""
    def minutes(key: str, c: str) -> float:
        return round(sum(s[key][c] for s in seeds) / len(seeds) / 60, 2)

    return {c: {"validation": summarize([s["validation"][c] for s in seeds]).to_dict(),
                "test": summarize([s["accuracy"][c] for s in seeds]).to_dict(),
                "minutes": minutes("seconds", c),
                "pipeline_minutes": minutes("pipeline_seconds", c)} for c in CONDITIONS}


def reuse_baselines(config: AugmentConfig, out: str | Path, base: AugmentConfig,
                    base_out: str | Path) -> list[str]:
    """Copy into experiment folder `out` the non-GAN conditions' finished files of the
    experiment `base` wrote into `base_out`, for a `config` that differs from `base` only in
    GAN-side settings (a screen of GAN variants then trains only GANs and their students).
    Returns the conditions copied for seed 0."""
    changed = {k for k, v in config.to_dict().items()
               if v != base.to_dict()[k] and k not in ("seeds", "workers")}
    if changed - set(GAN_SIDE):
        raise GankitError(f"only GAN-side settings may differ from the baseline experiment's "
                          f"to reuse its recognisers; these differ too: "
                          f"{', '.join(sorted(changed - set(GAN_SIDE)))}")
    names = [c for c in NON_GAN_CONDITIONS
             if c != "longer" or config.longer_updates() == base.longer_updates()]
    copied: list[str] = []
    base_settings = json.dumps(_seed_settings(base), indent=2)
    for seed in range(config.seeds):
        source, folder = Path(base_out) / f"seed{seed}", Path(out) / f"seed{seed}"
        if (not (source / SETTINGS).is_file()
                or (source / SETTINGS).read_text() != base_settings):
            raise GankitError(f"{source} was not written by the baseline experiment's "
                              "settings; run that experiment there first")
        if prepare_seed(config, folder):
            continue
        done = [c for c in names if condition_file(source, c).is_file()
                and not condition_file(folder, c).is_file()]
        for c in done:
            shutil.copy2(condition_file(source, c), condition_file(folder, c))
        if seed == 0:
            copied = done
    return copied


def prepare_seed(config: AugmentConfig, folder: Path) -> bool:
    """Whether an earlier call with the same settings finished the seed in `folder`. If not,
    the files its finished tasks left stay (a resumed experiment reruns only the rest), unless
    other settings wrote them: then the folder starts empty."""
    settings = json.dumps(_seed_settings(config), indent=2)
    if (folder / SETTINGS).is_file() and (folder / SETTINGS).read_text() == settings:
        return (folder / SEED_RECORD).is_file()
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    atomic_write(folder / SETTINGS, settings.encode())
    return False


def _seed_settings(config: AugmentConfig) -> dict[str, Any]:
    """Everything that decides a seed's result: the settings less the number of seeds and of
    workers (a seed records the threads it ran on)."""
    settings = config.to_dict()
    del settings["seeds"], settings["workers"]
    return settings


