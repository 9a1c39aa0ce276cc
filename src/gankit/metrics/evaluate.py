"""`gankit eval`: score a trained run against real data, each score stored with its protocol."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import torch

from gankit.data import ImageDataset, load_dataset, to_float, to_uint8
from gankit.device import select_device
from gankit.errors import GankitError
from gankit.io import atomic_write, writable_folder
from gankit.metrics import scores
from gankit.metrics.cache import cached_features
from gankit.metrics.domain import DomainFeatures
from gankit.metrics.inception import InceptionFeatures
from gankit.plots import labelled_rows_png
from gankit.recognize import ClassifierConfig, accuracy, train_classifier
from gankit.registry import Registry
from gankit.sampling import generate
from gankit.train.rundir import RunDir, TrainedGenerator, load_generator

EVAL_FILE = "eval.json"
DEFAULT_METRICS = ("fid", "kid", "pr", "domain-fid", "generalization")
# Copying is suspected when generated images are significantly nearer their nearest training
# image than held-out real images are (one-sided Mann-Whitney p below COPYING_P) and more than
# COPYING_SHARE of them are nearer than 99% of held-out images (about 1% without copying).
COPYING_P, COPYING_SHARE = 0.01, 0.05


@dataclass
class _Context:
    """What the metrics of one evaluation share; features are computed at most once."""

    trained: TrainedGenerator
    train: ImageDataset
    reference: ImageDataset
    fake: torch.Tensor  # uint8 NCHW
    fake_labels: torch.Tensor | None
    base_protocol: dict[str, Any]
    device: torch.device
    progress: bool

    @cached_property
    def real(self) -> torch.Tensor:
        return to_uint8(self.reference.images)

    @cached_property
    def inception(self) -> tuple[torch.Tensor, torch.Tensor, dict[str, Any]]:
        extractor = InceptionFeatures(self.device)
        extractor_id = f"inception-{extractor.weights_sha1[:12]}"

        # Generated features are cached too, so an interrupted evaluation resumes cheaply.
        real = cached_features(self.real, extractor_id,
                               f"{self.reference.name}-{self.reference.split}-n{len(self.real)}",
                               extractor, self.progress)
        fake = cached_features(self.fake, extractor_id,
                               f"generated-step{self.trained.step}-n{len(self.fake)}", extractor,
                               self.progress)
        return real, fake, {"extractor": extractor.name, "weights_sha1": extractor.weights_sha1,
                            "resize": extractor.resize}

    @cached_property
    def domain(self) -> DomainFeatures:
        full_train = load_dataset(self.train.name, "train",
                                  root=self.trained.config.data_root,
                                  image_size=self.trained.config.image_size)
        return DomainFeatures(full_train, self.reference_full_test(), str(self.device),
                              self.progress)

    def reference_full_test(self) -> ImageDataset:
        cfg = self.trained.config
        return load_dataset(cfg.data, "test", root=cfg.data_root, image_size=cfg.image_size)

    @cached_property
    def domain_real(self) -> torch.Tensor:
        return self.domain(self.real)

    @cached_property
    def domain_fake(self) -> torch.Tensor:
        return self.domain(self.fake)

    def domain_protocol(self) -> dict[str, Any]:
        d = self.domain
        return {"extractor": d.name, "weights_sha1": d.weights_sha1, "resize": d.resize,
                "extractor_test_accuracy": round(d.test_accuracy, 4)}

    def protocol(self, extra: dict[str, Any]) -> dict[str, Any]:
        return {**self.base_protocol, **extra}

    @cached_property
    def nearest(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Pixel-L2 distance of each generated image to its nearest training image, that
        image's index, and the same distance for each held-out real image."""
        train_flat = self.train.images.flatten(1)
        fake_dist, fake_nn = scores.nearest_neighbours(to_float(self.fake).flatten(1),
                                                       train_flat)
        real_dist, _ = scores.nearest_neighbours(self.reference.images.flatten(1), train_flat)
        return fake_dist, fake_nn, real_dist

    def memorization_ratio(self) -> float:
        fake_dist, _, real_dist = self.nearest
        return float(fake_dist.median() / real_dist.median())

    def near_copy_share(self) -> float:
        fake_dist, _, real_dist = self.nearest
        return float((fake_dist < torch.quantile(real_dist, 0.01)).float().mean())

    def nearer_than_heldout_p(self) -> float:
        """One-sided Mann-Whitney p that generated images lie nearer the training set than
        held-out real ones."""
        from scipy.stats import mannwhitneyu

        fake_dist, _, real_dist = self.nearest
        return float(mannwhitneyu(fake_dist.numpy(), real_dist.numpy(),
                                  alternative="less").pvalue)


Metric = Callable[[_Context], dict[str, dict[str, Any]]]
METRICS: Registry[Metric] = Registry("metric")


@METRICS.register("fid", "Frechet Inception Distance (Heusel et al. 2017)")
def _fid(ctx: _Context) -> dict[str, dict[str, Any]]:
    real, fake, proto = ctx.inception
    return {"fid": {"value": scores.fid(real, fake), "protocol": ctx.protocol(proto)}}


@METRICS.register("kid", "Kernel Inception Distance, unbiased, 100 subsets (Binkowski et al. 2018)")
def _kid(ctx: _Context) -> dict[str, dict[str, Any]]:
    real, fake, proto = ctx.inception
    mean, std = scores.kid(real, fake, seed=ctx.base_protocol["seed"])
    return {"kid": {"value": mean, "std": std, "protocol": ctx.protocol(proto)}}


@METRICS.register("pr", "precision and recall, k=3 (Kynkaanniemi et al. 2019), Inception space")
def _pr(ctx: _Context) -> dict[str, dict[str, Any]]:
    real, fake, proto = ctx.inception
    precision, recall = scores.precision_recall(real, fake, k=3)
    protocol = ctx.protocol({**proto, "k": 3})
    return {"precision": {"value": precision, "protocol": protocol},
            "recall": {"value": recall, "protocol": protocol}}


@METRICS.register("domain-fid", "FID in the feature space of gankit's own recogniser (fast)")
def _domain_fid(ctx: _Context) -> dict[str, dict[str, Any]]:
    real, fake = ctx.domain_real, ctx.domain_fake
    return {"domain-fid": {"value": scores.fid(real, fake),
                           "protocol": ctx.protocol(ctx.domain_protocol())}}


@METRICS.register("is", "Inception Score computed with the domain recogniser's classes "
                        "(the offline FID network ships no classifier head)")
def _is(ctx: _Context) -> dict[str, dict[str, Any]]:
    mean, std = scores.inception_score(ctx.domain.logits(ctx.fake),
                                       seed=ctx.base_protocol["seed"])
    return {"is": {"value": mean, "std": std,
                   "protocol": ctx.protocol({**ctx.domain_protocol(), "splits": 10})}}


@METRICS.register("cas", "classification accuracy score: recogniser trained on generated "
                         "images only, tested on real test images (Ravuri & Vinyals 2019)")
def _cas(ctx: _Context) -> dict[str, dict[str, Any]]:
    if ctx.fake_labels is None:
        raise GankitError("cas needs a conditional run (trained with --conditional)")
    generated = ImageDataset("generated", "train", to_float(ctx.fake), ctx.fake_labels.cpu(),
                             ctx.trained.classes)
    config = ClassifierConfig()
    model = train_classifier(generated, config, device=str(ctx.device), progress=ctx.progress)
    test = ctx.reference_full_test()
    return {"cas": {"value": accuracy(model, test), "protocol": ctx.protocol({
        "classifier": "SmallCNN", "classifier_epochs": config.epochs,
        "test": f"{test.name}/test", "n_test": len(test)})}}


@METRICS.register("modes", "modes covered and KL to uniform on stacked:NAME data, each channel "
                           "read by the grayscale data's recogniser (Metz et al. 2017)")
def _modes(ctx: _Context) -> dict[str, dict[str, Any]]:
    from gankit.data.stacked import PREFIX
    from gankit.metrics.modes import count_modes

    cfg = ctx.trained.config
    if not cfg.data.startswith(PREFIX):
        raise GankitError(f"modes needs a run trained on stacked data ({PREFIX}NAME); this one "
                          f"trained on {cfg.data}")
    source = [load_dataset(cfg.data.removeprefix(PREFIX), split, root=cfg.data_root,
                           image_size=cfg.image_size) for split in ("train", "test")]
    reader = DomainFeatures(*source, str(ctx.device), ctx.progress)
    result = count_modes(ctx.fake, reader.logits, source[0].num_classes)
    return {"modes": {"value": result["modes"], **result, "protocol": ctx.protocol({
        "reader": reader.name, "reader_test_accuracy": round(reader.test_accuracy, 4)})}}


@METRICS.register("memorization", "nearest-training-image distances of generated images vs "
                                  "held-out real ones (pixel L2), plus the closest pairs PNG")
def _memorization(ctx: _Context) -> dict[str, dict[str, Any]]:
    fake_dist, fake_nn, real_dist = ctx.nearest
    closest = fake_dist.argsort()[:16]
    pairs = torch.cat([to_float(ctx.fake[closest]), ctx.train.images[fake_nn[closest]]])
    png = labelled_rows_png(pairs, len(closest), ["generated", "nearest training"],
                            Path(ctx.base_protocol["run_dir"]) / "memorization_pairs.png",
                            "the generated images closest to a training image")
    return {"memorization": {
        "value": ctx.memorization_ratio(),
        "median_generated_to_train": float(fake_dist.median()),
        "median_heldout_to_train": float(real_dist.median()),
        "share_closer_than_heldout_p1": ctx.near_copy_share(),
        "closest_pairs_png": str(png),
        "protocol": ctx.protocol({"space": "pixels in [-1, 1], L2",
                                  "train_images": len(ctx.train)})}}


@METRICS.register("generalization", "domain FID of the generated images to training images "
                                    "beside that to held-out ones, and near-copy counts")
def _generalization(ctx: _Context) -> dict[str, dict[str, Any]]:
    """Is the generator nearer its training images than unseen ones of the same distribution?
    The data-copying test of Meehan et al. (2020, "A Non-Parametric Test to Detect
    Data-Copying in Generative Models"): distances to the nearest training image, of generated
    vs held-out real images, compared by a Mann-Whitney test as in the paper, with the share of
    near copies as the effect size (see COPYING_P). Beside it, domain FID to
    an equally large sample of the training images and to the held-out ones: FID is blind to
    copying from a large training set (two samples of one distribution), but not from a small
    one (`--per-class`), where the sample is the whole training set. Real held-out images
    against the same training sample give the yardstick."""
    order = torch.randperm(len(ctx.train), generator=torch.Generator().manual_seed(
        ctx.base_protocol["seed"]))
    sample = to_uint8(ctx.train.images[order[:len(ctx.reference)]])
    train, held, fake = ctx.domain(sample), ctx.domain_real, ctx.domain_fake
    to_train, to_heldout = scores.fid(train, fake), scores.fid(held, fake)
    share, p = ctx.near_copy_share(), ctx.nearer_than_heldout_p()
    return {"generalization": {
        "value": to_train / max(to_heldout, 1e-12), "fid_to_train": to_train,
        "fid_to_heldout": to_heldout, "fid_heldout_to_train": scores.fid(train, held),
        "memorization_ratio": ctx.memorization_ratio(), "near_copy_share": share,
        "nearer_than_heldout_p": p, "copying_suspected": p < COPYING_P and share > COPYING_SHARE,
        "protocol": ctx.protocol({**ctx.domain_protocol(), "n_train_sample": len(sample),
                                  "space": "domain recogniser features; pixels for copies"})}}


def generalization_sentence(score: dict[str, Any]) -> str:
    """What the generalization score says, from its numbers."""
    verdict = ("suspect copying" if score["copying_suspected"]
               else "no sign of copying its training images")
    return (f"Domain FID of the generated images: {score['fid_to_train']:.2f} to training "
            f"images, {score['fid_to_heldout']:.2f} to held-out ones (ratio "
            f"{score['value']:.2f}; two real samples: {score['fid_heldout_to_train']:.2f}). "
            f"{100 * score['near_copy_share']:.1f}% of generated images are nearer a training "
            f"image than 99% of held-out images are (about 1% without copying; memorisation "
            f"ratio {score['memorization_ratio']:.2f}, Mann-Whitney p "
            f"{score['nearer_than_heldout_p']:.2g}): {verdict}.")


def parse_metrics(names: str | Sequence[str]) -> list[str]:
    items = names.split(",") if isinstance(names, str) else list(names)
    items = [n.strip() for n in items if n.strip()]
    for name in items:
        METRICS.get(name)  # unknown names list the choices
    if not items:
        raise GankitError(f"no metric given; choose from: {', '.join(METRICS)}")
    return items


def evaluate_run(run_dir: str | Path, metrics: str | Sequence[str] = DEFAULT_METRICS, *,
                 n: int = 10_000, reference_split: str = "test", seed: int = 0,
                 device: str = "auto", progress: bool = True) -> dict[str, dict[str, Any]]:
    """Score a run's (EMA) generator; merge the scores into RUN_DIR/eval.json and return them."""
    names = parse_metrics(metrics)
    if n < 2:
        raise GankitError(f"--n must be at least 2, got {n}")
    run = RunDir(run_dir)
    trained = load_generator(run.path, device=device)
    writable_folder(run.path)  # before the scoring, which can take minutes
    cfg = trained.config
    train = load_dataset(cfg.data, "train", root=cfg.data_root, image_size=cfg.image_size,
                         per_class=cfg.per_class, seed=cfg.seed, holdout=cfg.holdout)
    reference = load_dataset(cfg.data, reference_split, root=cfg.data_root,
                             image_size=cfg.image_size, holdout=cfg.holdout)
    reference = reference.select(torch.arange(min(n, len(reference))))
    fake, fake_labels = generate(trained.generator, n, seed=seed)
    ctx = _Context(trained, train, reference, fake, fake_labels, {
        "reference": f"{reference.name}/{reference_split}", "n_real": len(reference),
        "n_generated": n, "seed": seed, "generator": "ema" if cfg.ema else "raw",
        "run_dir": str(run.path), "step": trained.step}, select_device(device), progress)
    results: dict[str, dict[str, Any]] = {}
    for name in names:
        results.update(METRICS.get(name)(ctx))
    _merge_into(run.path / EVAL_FILE, results)
    return results


def read_scores(run_dir: str | Path) -> dict[str, dict[str, Any]]:
    path = Path(run_dir) / EVAL_FILE
    if not path.is_file():
        raise GankitError(f"{path} does not exist; run gankit eval {run_dir} first")
    try:
        return json.loads(path.read_text())["scores"]
    except (json.JSONDecodeError, KeyError) as err:
        raise GankitError(f"{path} is not a gankit eval file ({err}); re-run gankit eval") from None


def _merge_into(path: Path, results: dict[str, dict[str, Any]]) -> None:
    existing = read_scores(path.parent) if path.is_file() else {}
    atomic_write(path, json.dumps({"scores": {**existing, **results}}, indent=2).encode())


# Protocol fields that describe the run rather than the measuring method.
_RUN_FIELDS = {"run_dir", "step", "generator"}


def protocol_differences(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """The fields of the measuring method in which two scores' protocols differ."""
    pa = {k: v for k, v in a.items() if k not in _RUN_FIELDS}
    pb = {k: v for k, v in b.items() if k not in _RUN_FIELDS}
    return sorted(k for k in pa.keys() | pb.keys() if pa.get(k) != pb.get(k))


def compare_scores(a: dict[str, dict[str, Any]],
                   b: dict[str, dict[str, Any]]) -> list[tuple[str, float, float]]:
    """Rows (metric, value_a, value_b) for the metrics both have; refuses any whose protocols
    differ, since such numbers are not comparable."""
    rows = []
    for name in [m for m in a if m in b]:
        differ = protocol_differences(a[name]["protocol"], b[name]["protocol"])
        if differ:
            raise GankitError(f"cannot compare {name}: the protocols differ in "
                              f"{', '.join(differ)}; re-evaluate both runs the same way")
        rows.append((name, a[name]["value"], b[name]["value"]))
    if not rows:
        raise GankitError("the two runs share no evaluated metric; evaluate both with the same "
                          "--metrics")
    return rows
