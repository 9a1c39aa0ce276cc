"""`gankit translate apply`: translate images with a trained run and show input · output."""

from __future__ import annotations

from pathlib import Path

import torch

from gankit.data import DATASETS, load_images
from gankit.imaging import save_grid
from gankit.io import writable_folder
from gankit.translate.domains import load_domain
from gankit.translate.translator import load_translator


def translate_images(run_dir: str | Path, images: str, out: str | Path, *,
                     direction: str = "a2b", n: int = 16, seed: int = 0,
                     device: str = "auto") -> Path:
    """Translate the first `n` of `images` — a domain such as `fashion-mnist@low-light` (its
    test split), a folder or an image file — and write OUT/translated_*.png and OUT/grid.png
    (rows alternate: inputs, their translations)."""
    model, _ = load_translator(run_dir, device)
    base = images.partition("@")[0]
    if "@" in images or base in DATASETS or base.startswith("folder:"):
        data = load_domain(images, "test", seed=seed)
        pixels = data.images[:n]
    else:
        pixels = load_images(images, model.image_shape, n=n).images
    translated = model.translate(pixels, direction)
    out = Path(out)
    writable_folder(out)
    for i, image in enumerate(translated):
        save_grid(image[None], out / f"translated_{i:04d}.png")
    rows = []
    for start in range(0, len(pixels), 8):
        rows += [pixels[start : start + 8], translated[start : start + 8]]
    save_grid(torch.cat(rows), out / "grid.png", nrow=8, scale=2)
    return out / "grid.png"
