"""What the web app's jobs do: thin calls into gankit's Python API that return pictures (data
URIs) and numbers for the page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from gankit.data import load_images
from gankit.errors import GankitError
from gankit.io import read_yaml
from gankit.serve.app import Runs, png_uri


def image_shape(run: Path) -> tuple[int, int, int]:
    kind = Runs.kind(run)
    if kind == "classifier":
        from gankit.recognize import load_recogniser_run

        return tuple(load_recogniser_run(run, "cpu").model.image_shape)
    if kind == "translator":
        from gankit.translate import load_translator

        return tuple(load_translator(run, "cpu")[0].image_shape)
    from gankit.inpaint.api import run_image_shape

    return tuple(run_image_shape(run))


def _test_image(source: str, shape: tuple[int, int, int], index: int) -> torch.Tensor:
    """Test image number `index` of a dataset or domain, when the user uploads none."""
    if not 0 <= index < 10_000:
        raise GankitError(f"image index {index} is outside 0..9999")
    if "@" in source:
        from gankit.translate import load_domain

        data = load_domain(source, "test")
    else:
        data = load_images(source, shape, n=index + 1)
    if index >= len(data):
        raise GankitError(f"image index {index} is past the {len(data)} test images of "
                          f"{source}; use 0..{len(data) - 1}")
    return data.images[index][None]


def _run_data(run: Path) -> str:
    """The dataset a run was trained on (its config.yaml)."""
    config = read_yaml(run / "config.yaml", "run config") or {}
    return config.get("data") or config.get("a") or "fashion-mnist"


def sample(run: Path, seed: int, n: int, class_name: str, interpolate: int,
           device: str) -> dict[str, Any]:
    from gankit.sampling import interpolate as slerp_rows
    from gankit.sampling import resolve_class
    from gankit.sampling import sample as draw
    from gankit.train import load_generator

    trained = load_generator(run, device=device)
    labels = None
    if class_name:
        k = resolve_class(trained, class_name)
        labels = torch.full((n,), k, dtype=torch.long, device=next(
            trained.generator.parameters()).device)
    with torch.no_grad():
        if interpolate:
            images = slerp_rows(trained.generator, n, interpolate, labels=labels, seed=seed)
            return {"image": png_uri(images, nrow=interpolate, scale=2)}
        images = draw(trained.generator, n, labels=labels, seed=seed)
    return {"image": png_uri(images, nrow=min(n, 8), scale=2)}


def inpaint(run: Path, method: str, mask_kind: str, drawn: torch.Tensor | None,
            picture: torch.Tensor | None, index: int, seed: int,
            device: str) -> dict[str, Any]:
    from gankit.inpaint.api import METHODS
    from gankit.inpaint.masks import check_masks, make_masks
    from gankit.inpaint.quality import psnr

    complete = METHODS.get(method)
    shape = image_shape(run)
    images = picture if picture is not None else _test_image(_run_data(run), shape, index)
    if drawn is not None:  # white (bright) strokes mark what is missing
        holes = (drawn > 0).float()
        check_masks(holes, shape[1:], "drawn")
    else:
        holes = make_masks(mask_kind, 1, shape[1], shape[2], seed=seed)
    masked = torch.where(holes.expand_as(images).bool(), 0.0, images)
    completed = complete(run, masked, holes, device).cpu()
    return {"image": png_uri(torch.cat([masked, completed, images]), nrow=3),
            "psnr_hole": round(psnr(completed, images, holes), 2),
            "caption": "masked · completed · original"}


def attack(run: Path, method: str, eps: float, picture: torch.Tensor | None, index: int,
           device: str) -> dict[str, Any]:
    from gankit.adversarial import AttackSpec, Budget
    from gankit.adversarial.api import attack_images, check_inputs
    from gankit.data import ImageDataset
    from gankit.recognize import load_recogniser_run, predict_logits

    stored = load_recogniser_run(run, device)
    shape = tuple(stored.model.image_shape)
    images = picture if picture is not None else _test_image(stored.info["data"], shape, index)
    with torch.no_grad():
        before = predict_logits(stored.model, images).softmax(dim=1)[0]
    label = before.argmax().view(1)  # attack the recogniser's own answer
    spec = AttackSpec(Budget(eps))
    check_inputs(stored.model, ImageDataset("upload", "test", images, label, stored.classes),
                 spec)
    adversarial = attack_images(stored.model, images, label, method, spec)
    after = predict_logits(stored.model, adversarial).softmax(dim=1)[0]
    delta = adversarial - images
    stretched = delta / delta.abs().max().clamp(min=1e-12)

    def top(probabilities: torch.Tensor) -> dict[str, Any]:
        k = int(probabilities.argmax())
        return {"class": stored.classes[k], "confidence": round(float(probabilities[k]), 4)}

    return {"image": png_uri(torch.cat([images, stretched, adversarial]), nrow=3),
            "caption": "original · perturbation (stretched) · adversarial",
            "before": top(before), "after": top(after),
            "linf": round(float(delta.abs().max()) / 2, 4)}


def translate(run: Path, direction: str, picture: torch.Tensor | None, index: int,
              device: str) -> dict[str, Any]:
    from gankit.translate import load_translator

    model, meta = load_translator(run, device)
    source = meta["a"] if direction == "a2b" else meta["b"]
    images = picture if picture is not None else _test_image(source, model.image_shape, index)
    output = model.translate(images, direction)
    return {"image": png_uri(torch.cat([images, output]), nrow=2),
            "caption": f"input · {direction} ({meta['a']} ↔ {meta['b']})"}


def explore(run: Path, method: str, seed: int, amounts: list[float], class_name: str,
            device: str) -> dict[str, Any]:
    """The seed's image and the image at z + sum of amount_i x direction_i (the first
    len(amounts) SeFa or GANSpace directions, gankit.explore): one slider per direction."""
    from gankit.explore import ganspace_directions, sefa_directions
    from gankit.sampling import resolve_class
    from gankit.train import load_generator

    if method not in ("sefa", "ganspace"):
        raise GankitError(f"unknown direction method {method!r}; choose sefa or ganspace")
    trained = load_generator(run, device="cpu")
    generator = trained.generator
    found = (sefa_directions(generator, len(amounts)) if method == "sefa"
             else ganspace_directions(generator, len(amounts)))[0]
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(1, generator.z_dim, generator=gen)
    labels = None
    if generator.num_classes:
        k = (resolve_class(trained, class_name) if class_name
             else int(torch.randint(generator.num_classes, (1,), generator=gen)))
        labels = torch.tensor([k, k])
    moved = z + (torch.tensor(amounts)[:, None] * found[: len(amounts)]).sum(dim=0)
    with torch.no_grad():
        images = generator(torch.cat([z, moved]), labels).float()
    return {"image": png_uri(images, nrow=2),
            "caption": f"seed {seed} · moved along {method} directions "
                       + ", ".join(f"{i}: {a:+g}" for i, a in enumerate(amounts) if a),
            "pixel_change_rms": round(float((images[1] - images[0]).pow(2).mean().sqrt()), 4)}
