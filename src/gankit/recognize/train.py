"""Training and applying the recogniser on in-memory datasets."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from tqdm import tqdm

from gankit.data import ImageDataset
from gankit.distributed import init_distributed, wrap
from gankit.errors import GankitError
from gankit.recognize.augment import AUGMENTATIONS, mirror_safe, shift_and_flip
from gankit.recognize.model import SmallCNN
from gankit.train.batches import BatchStream

# (model in training, images, labels) -> the images to train on instead (adversarial training)
Adversary = Callable[[torch.nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]


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
                     device: str = "auto", progress: bool = False,
                     adversary: Adversary | None = None) -> SmallCNN:
    """AdamW with a one-cycle schedule (Smith & Topin 2019) on labelled images in [-1, 1];
    with an `adversary`, on the images it makes from each batch instead. Under torchrun the
    model trains with DDP, each rank on its share of every batch."""
    if not data.labeled:
        raise GankitError(f"{data.name} has no labels; a recogniser needs labelled images")
    if config.augment not in AUGMENTATIONS:
        raise GankitError(f"unknown augmentation {config.augment!r}; choose one of: "
                          f"{', '.join(AUGMENTATIONS)}")
    where, dev = init_distributed(device)
    augment_rng = torch.Generator().manual_seed(config.seed + 1)
    flip = mirror_safe(data.name)
    torch.manual_seed(config.seed)
    model = SmallCNN(data.image_shape, data.num_classes, config.width).to(dev)
    step_model = wrap(model, where, dev)
    batch_size = min(config.batch_size, len(data))
    batches = BatchStream(len(data), batch_size, config.seed, where.rank, where.world_size)
    steps = config.steps or max(1, round(config.epochs * batches.batches_per_epoch))
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    schedule = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=config.lr, total_steps=steps)
    model.train()
    for _ in tqdm(range(steps), disable=not (progress and where.is_main), desc="recogniser",
                  unit="step"):
        index = batches.next()
        images = data.images[index]
        if config.augment == "classical":
            images = shift_and_flip(images, augment_rng, flip=flip)
        images, labels = images.to(dev), data.labels[index].to(dev)
        if adversary is not None:  # attacks the plain model: DDP's hooks are for updates
            images = adversary(model, images, labels)
        loss = F.cross_entropy(step_model(images), labels)
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
