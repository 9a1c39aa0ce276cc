"""The image commands: inpaint (and inpaint train), translate train/apply, report, serve."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from gankit.errors import GankitError
from gankit.extras import require
from gankit.inpaint.api import METHODS as INPAINTING
from gankit.inpaint.cgan import CompletionConfig
from gankit.inpaint.masks import MASK_KINDS
from gankit.options import device_option, option, progress_option, seed_option
from gankit.runs import new_run_dir
from gankit.translate.translator import TranslateConfig

MAX_IMAGES = 10_000  # images one command completes or translates


@dataclass(frozen=True)
class InpaintCommand:
    run_dir: str = option("a gankit GAN (or completion) run directory", positional=True)
    images: str = option("dataset name (its test split), folder or image file",
                         "fashion-mnist")
    mask: str = option("a mask kind, or a PNG (white = missing)", "center", choices=MASK_KINDS)
    method: str = option("completion method (cgan needs an `inpaint train` run; mean, "
                         "biharmonic and telea are the classical baselines)", "latent",
                         choices=INPAINTING)
    n: int = option("images to complete", 16, low=1, high=MAX_IMAGES)
    seed: int = seed_option("seed of the random masks")
    out: str | None = option("output folder (default: RUN_DIR/inpaint/METHOD-MASK)")
    device: str = device_option()


def inpaint(command: InpaintCommand) -> None:
    from gankit.inpaint.api import inpaint as complete

    out = Path(command.out) if command.out else (
        Path(command.run_dir) / "inpaint" / f"{command.method}-{Path(command.mask).stem}")
    result = complete(command.run_dir, command.images, command.mask, out,
                      method=command.method, n=command.n, seed=command.seed,
                      device=command.device)
    print(f"completed {len(result.completed)} images with {command.method}; "
          f"grid (masked / completed / original): {result.grid}")


@dataclass(frozen=True)
class TrainRunCommand:
    """What every `... train` command of an application adds to its config."""

    out: str | None = option("run directory (default: runs/KIND-...-TIME); a run that stopped "
                             "early there continues")
    progress: bool = progress_option()


def inpaint_train(command: TrainRunCommand, config: CompletionConfig) -> None:
    from gankit.inpaint.cgan import train_completion

    out = new_run_dir(command.out, "inpaint", config.data)
    train_completion(config, out, progress=command.progress)
    print(f"wrote {out}/ (completion.safetensors, config.yaml, metrics.jsonl, samples.png); "
          f"use it with gankit inpaint {out} --method cgan")


def translate_train(command: TrainRunCommand, config: TranslateConfig) -> None:
    from gankit.translate import train_translator

    out = new_run_dir(command.out, "translate", config.method)
    train_translator(config, out, progress=command.progress)
    print(f"wrote {out}/ (translator.safetensors, config.yaml, metrics.jsonl, samples.png); "
          f"use it with gankit translate apply {out} --images {config.b} --direction b2a")


@dataclass(frozen=True)
class TranslateApplyCommand:
    run_dir: str = option("a gankit translate run directory", positional=True)
    images: str = option("a domain (its test split), folder or image file",
                         "fashion-mnist@low-light")
    direction: str = option("which way to translate", "a2b", choices=("a2b", "b2a"))
    n: int = option("images to translate", 16, low=1, high=MAX_IMAGES)
    seed: int = seed_option("seed of the domain's transforms")
    out: str | None = option("folder (default: RUN_DIR/translated/DIRECTION)")
    device: str = device_option()


def translate_apply(command: TranslateApplyCommand) -> None:
    from gankit.translate import translate_images

    out = Path(command.out) if command.out else (
        Path(command.run_dir) / "translated" / command.direction)
    grid = translate_images(command.run_dir, command.images, out, direction=command.direction,
                            n=command.n, seed=command.seed, device=command.device)
    print(f"wrote {out}/ (translated_*.png; grid.png rows alternate input / output): {grid}")


@dataclass(frozen=True)
class ReportCommand:
    run_dir: str = option("a gankit run directory, or a benchmark's result JSON "
                          "(bench/results/NAME.json: its verdict and headline)", positional=True)
    compare: list[str] | None = option("more runs (or results), side by side")
    out: str | None = option("HTML file (default: RUN_DIR/report.html, NAME.html beside "
                             "NAME.json)")


def report(command: ReportCommand) -> None:
    from gankit.report import write_report

    print(f"wrote {write_report([command.run_dir, *(command.compare or [])], command.out)}")


@dataclass(frozen=True)
class ServeCommand:
    runs: str = option("folder of run directories", "runs")
    host: str = option("address to bind (default: local only)", "127.0.0.1")
    port: int = option("port to listen on", 8000, low=1, high=65_535)
    device: str = device_option()


def serve(command: ServeCommand) -> None:
    if not Path(command.runs).is_dir():
        raise GankitError(f"runs folder {command.runs} does not exist; train something first "
                          "or pass --runs DIR")
    uvicorn = require("uvicorn", "serve")
    require("fastapi", "serve")
    require("multipart", "serve")  # python-multipart: FastAPI's form uploads
    from gankit.serve.app import LOCAL_HOSTS, create_app

    if command.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"note: serving on {command.host}: anyone who can reach it can run models here")
    print(f"gankit: serving {command.runs} on http://{command.host}:{command.port}/ "
          "(Ctrl-C stops)")
    # Requests must name the host served on (DNS rebinding); all hosts on a wildcard bind.
    hosts = ["*"] if command.host in ("0.0.0.0", "::") else [command.host, *LOCAL_HOSTS]
    # the request log (uvicorn's access lines) and one line per finished job, on stderr
    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(message)s")
    uvicorn.run(create_app(command.runs, device=command.device, hosts=hosts),
                host=command.host, port=command.port, log_level="info")
