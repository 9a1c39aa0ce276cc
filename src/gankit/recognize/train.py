"""Training and applying the recogniser on in-memory datasets."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from tqdm import tqdm

from gankit.data import ImageDataset
from gankit.device import select_device
from gankit.errors import GankitError
from gankit.recognize.augment import AUGMENTATIONS, mirror_safe, shift_and_flip
from gankit.recognize.model import SmallCNN
from gankit.train.batches import BatchStream


@dataclass(frozen=True)
class ClassifierConfig:
    epochs: float = 8.0
    steps: int | None = None  # a fixed number of updates instead of epochs (equal budgets)
    batch_size: int = 128
    lr: float = 2e-3
    weight_decay: float = 5e-4
    width: int = 32
    augment: str = "none"  # or "classical": shifts, plus flips where mirror_safe(data)
    seed: int = 0


def train_classifier(data: ImageDataset, config: ClassifierConfig = ClassifierConfig(), *,
                     device: str = "auto", progress: bool = False) -> SmallCNN:
    """AdamW with a one-cycle schedule (Smith & Topin 2019) on labelled images in [-1, 1]."""
    if not data.labeled:
        raise GankitError(f"{data.name} has no labels; a recogniser needs labelled images")
    if config.augment not in AUGMENTATIONS:
        raise GankitError(f"unknown augmentation {config.augment!r}; choose one of: "
                          f"{', '.join(AUGMENTATIONS)}")
    dev = select_device(device)
    augment_rng = torch.Generator().manual_seed(config.seed + 1)
    flip = mirror_safe(data.name)
    torch.manual_seed(config.seed)
    model = SmallCNN(data.image_shape, data.num_classes, config.width).to(dev)
    batch_size = min(config.batch_size, len(data))
    batches = BatchStream(len(data), batch_size, config.seed)
    steps = config.steps or max(1, round(config.epochs * batches.batches_per_epoch))
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    schedule = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=config.lr, total_steps=steps)
    model.train()
    for _ in tqdm(range(steps), disable=not progress, desc="recogniser", unit="step"):
        index = batches.next()
        images = data.images[index]
        if config.augment == "classical":
            images = shift_and_flip(images, augment_rng, flip=flip)
        loss = F.cross_entropy(model(images.to(dev)), data.labels[index].to(dev))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        schedule.step()
    return model.eval()


@torch.no_grad()
def predict_logits(model: SmallCNN, images: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    return _batched(model, images, batch_size, embed=False)


@torch.no_grad()
def embed(model: SmallCNN, images: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    return _batched(model, images, batch_size, embed=True)


def _batched(model: SmallCNN, images: torch.Tensor, batch_size: int, embed: bool) -> torch.Tensor:
    model.eval()
    dev = next(model.parameters()).device
    fn = model.embed if embed else model
    return torch.cat([fn(images[i : i + batch_size].to(dev)).float().cpu()
                      for i in range(0, len(images), batch_size)])


def accuracy(model: SmallCNN, data: ImageDataset) -> float:
    predictions = predict_logits(model, data.images).argmax(dim=1)
    return (predictions == data.labels).float().mean().item()
