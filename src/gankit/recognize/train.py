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
from gankit.recognize.augment import AUGMENTATIONS, augment_batch, flip_allowed
from gankit.recognize.model import SmallCNN
from gankit.train.batches import BatchStream
from gankit.train.speed import SWITCHES, resolve

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
    augment: str = "none"  # AUGMENTATIONS: "classical" shifts, "strong" adds RandAugment
    flip: str = "auto"  # whether augmentation mirrors: FLIPS, see flip_allowed
    seed: int = 0
    amp: str = "auto"  # bf16 autocast of the forward pass: auto (gankit.train.speed), on, off


@dataclass(frozen=True)
class Supplement:
    """Extra training images that add to the real ones instead of displacing them: every
    update also draws a batch of these, and their loss counts `weight` times in the total.
    That loss is the cross-entropy with soft `targets` (N, classes; rows sum to 1) of the
    model's logits divided by `temperature`, times its square (Hinton et al. 2015's
    distillation loss, whose gradient keeps its size at any temperature), mixed with
    `label_share` of the plain cross-entropy with hard `labels`. Each update draws
    `batch_size` of them (None: as many as real images). gankit's use: GAN images, their
    conditioning labels and a teacher's softened predictions."""

    images: torch.Tensor
    targets: torch.Tensor
    weight: float = 1.0
    temperature: float = 1.0
    labels: torch.Tensor | None = None
    label_share: float = 0.0
    batch_size: int | None = None

    def loss(self, logits: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        """This supplement's loss on the logits of its images `index`, before `weight`."""
        t = self.temperature
        soft = t * t * F.cross_entropy(logits / t, self.targets[index].to(logits.device))
        if self.labels is None or self.label_share == 0:
            return soft
        hard = F.cross_entropy(logits, self.labels[index].to(logits.device))
        return self.label_share * hard + (1 - self.label_share) * soft


def train_classifier(data: ImageDataset, config: ClassifierConfig = ClassifierConfig(), *,
                     device: str = "auto", progress: bool = False,
                     adversary: Adversary | None = None,
                     supplement: Supplement | None = None) -> SmallCNN:
    """AdamW with a one-cycle schedule (Smith & Topin 2019) on labelled images in [-1, 1],
    the forward pass in bf16 where `config.amp` resolves on (as GAN training's); with an
    `adversary`, on the images it makes from each batch instead; with a `supplement`,
    on each batch together with a batch of the supplement's images (one forward pass, so
    batch norm sees both). Under torchrun the model trains with DDP, each rank on its share
    of every batch."""
    if not data.labeled:
        raise GankitError(f"{data.name} has no labels; a recogniser needs labelled images")
    if supplement is not None and adversary is not None:
        raise GankitError("a recogniser trains with a supplement or an adversary, not both")
    if supplement is not None and (
            len(supplement.images) != len(supplement.targets)
            or supplement.targets.shape[1:] != (data.num_classes,)
            or supplement.images.shape[1:] != data.images.shape[1:]
            or (supplement.labels is not None
                and len(supplement.labels) != len(supplement.images))
            or (supplement.batch_size is not None and supplement.batch_size < 1)):
        raise GankitError(
            f"supplement of {tuple(supplement.images.shape)} images with "
            f"{tuple(supplement.targets.shape)} targets"
            + ("" if supplement.labels is None else f" and {len(supplement.labels)} labels")
            + ("" if supplement.batch_size is None else f", {supplement.batch_size} a batch,")
            + f" does not fit {data.name} "
            f"({tuple(data.images.shape[1:])} images, {data.num_classes} classes)")
    if config.augment not in AUGMENTATIONS:
        raise GankitError(f"unknown augmentation {config.augment!r}; choose one of: "
                          f"{', '.join(AUGMENTATIONS)}")
    if config.amp not in SWITCHES:
        raise GankitError(f"amp must be one of {', '.join(SWITCHES)}, got {config.amp!r}")
    flip = flip_allowed(data.name, config.flip)  # an unknown --flip fails here, named
    where, dev = init_distributed(device)
    speed = resolve(dev, amp=config.amp)
    augment_rng = torch.Generator().manual_seed(config.seed + 1)
    torch.manual_seed(config.seed)
    # NHWC whatever order a batch comes in: shifted, flipped or generated batches are NCHW,
    # whose oneDNN kernels ran a step about 25% slower on the reference CPU (cuDNN prefers
    # NHWC too). Returned in the default order, for saving and for other callers.
    model = SmallCNN(data.image_shape, data.num_classes, config.width).to(
        dev, memory_format=torch.channels_last)
    step_model = wrap(model, where, dev)
    batch_size = min(config.batch_size, len(data))
    batches = BatchStream(len(data), batch_size, config.seed, where.rank, where.world_size)
    steps = config.steps or max(1, round(config.epochs * batches.batches_per_epoch))
    extra_batches = None if supplement is None else BatchStream(
        len(supplement.images), min(supplement.batch_size or config.batch_size,
                                    len(supplement.images)), config.seed + 1,
        where.rank, where.world_size)
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    schedule = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=config.lr, total_steps=steps)
    model.train()
    for _ in tqdm(range(steps), disable=not (progress and where.is_main), desc="recogniser",
                  unit="step"):
        index = batches.next()
        images = data.images[index]
        if extra_batches is not None:
            extra_index = extra_batches.next()
            images = torch.cat([images, supplement.images[extra_index]])
        images = augment_batch(images, config.augment, augment_rng, flip=flip)
        images, labels = images.to(dev), data.labels[index].to(dev)
        if adversary is not None:  # attacks the plain model: DDP's hooks are for updates
            images = adversary(model, images, labels)
        with speed.autocast(dev):
            logits = step_model(images)
        logits = logits.float()  # the losses in fp32 whatever the forward pass ran in
        loss = F.cross_entropy(logits[:len(labels)], labels)
        if extra_batches is not None:
            loss = loss + supplement.weight * supplement.loss(logits[len(labels):], extra_index)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        schedule.step()
    return model.to(memory_format=torch.contiguous_format).eval()


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
