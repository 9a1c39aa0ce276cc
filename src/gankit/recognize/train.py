"""Training and applying the recogniser on in-memory datasets."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from gankit.data import ImageDataset
from gankit.distributed import Dist, init_distributed
from gankit.errors import GankitError
from gankit.io import load_state
from gankit.options import CheckedConfig, amp_option, option, seed_option
from gankit.recognize.augment import AUGMENTATIONS, FLIPS, augment_batch, flip_allowed
from gankit.recognize.model import SmallCNN
from gankit.train.batches import BatchStream, batch_within
from gankit.train.loop import Budget, run_loop
from gankit.train.method_run import restore_checkpoint, write_checkpoint
from gankit.train.speed import resolve, step_module

# (model in training, images, labels) -> the images to train on instead (adversarial training)
Adversary = Callable[[torch.nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]
CHECKPOINT_EVERY = 200
CHECKPOINT_KIND = "recogniser-training"  # an unfinished training, in the one checkpoint layout


@dataclass(frozen=True)
class ClassifierConfig(CheckedConfig):
    epochs: float = option("passes over the training images", 8.0, above=0, high=1e5)
    steps: int | None = option("a fixed number of updates instead of --epochs (equal budgets)",
                               low=1, high=10**8)
    batch_size: int = option("images per update", 128, low=1, high=8192)
    lr: float = option("peak one-cycle AdamW learning rate", 2e-3, above=0, high=1)
    weight_decay: float = option("AdamW weight decay", 5e-4, low=0, high=1)
    width: int = option("channels of the first stage", 32, low=1, high=512)
    augment: str = option("classical = random 2-pixel shifts (and mirrors, see --flip); strong "
                          "= those, RandAugment and random erasing", "none",
                          choices=AUGMENTATIONS)
    flip: str = option("mirror half the images in augmentation: auto = only where gankit knows "
                       "a mirror keeps the class (fashion-mnist; never folder: data)", "auto",
                       choices=FLIPS)
    seed: int = seed_option("seed of the weights, batches and augmentation")
    amp: str = amp_option()


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
                     supplement: Supplement | None = None,
                     checkpoint: str | Path | None = None) -> SmallCNN:
    """AdamW with a one-cycle schedule (Smith & Topin 2019) on labelled images in [-1, 1],
    the forward pass in bf16 where `config.amp` resolves on (as GAN training's); with an
    `adversary`, on the images it makes from each batch instead; with a `supplement`,
    on each batch together with a batch of the supplement's images (one forward pass, so
    batch norm sees both). Under torchrun the model trains with DDP, each rank on its share
    of every batch. With a `checkpoint` path the training state is saved there every
    CHECKPOINT_EVERY updates and when stopped (Ctrl-C), and a training started again with
    the same config continues from it exactly."""
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
    where, dev = init_distributed(device)
    method = ClassifierMethod(data, config, where, dev, adversary, supplement, checkpoint)
    if checkpoint is not None and Path(checkpoint).is_file():
        method.resume()
    result = run_loop(
        method, Budget(method.total_steps, log_every=100,
                       checkpoint_every=None if checkpoint is None else CHECKPOINT_EVERY),
        where, dev, progress=progress, desc="recogniser", checkpoint=method.checkpoint,
        hint="try a lower --lr")
    if result.stopped_by == "interrupt":
        if checkpoint is None:
            raise KeyboardInterrupt
        raise GankitError(f"stopped at update {result.steps} of {method.total_steps}; the "
                          f"training state is in {checkpoint}: train again with the same settings "
                          "(and the same --out) to continue")
    return method.model.to(memory_format=torch.contiguous_format).eval()


class ClassifierMethod:
    """One recogniser update on the one loop: a batch (with the supplement's, augmented, or
    through the adversary), cross-entropy, AdamW and the one-cycle schedule."""

    def __init__(self, data: ImageDataset, config: ClassifierConfig, where: Dist,
                 dev: torch.device, adversary: Adversary | None,
                 supplement: Supplement | None, checkpoint: str | Path | None) -> None:
        self.data, self.config, self.dev = data, config, dev
        self.adversary, self.supplement = adversary, supplement
        self.checkpoint = None if checkpoint is None else Path(checkpoint)
        self.is_main = where.is_main
        self.flip = flip_allowed(data.name, config.flip)  # an unknown --flip fails here, named
        self.speed = resolve(dev, amp=config.amp)
        self.augment_rng = torch.Generator().manual_seed(config.seed + 1)
        torch.manual_seed(config.seed)
        # NHWC whatever order a batch comes in: shifted, flipped or generated batches are
        # NCHW, whose oneDNN kernels run a step slower (cuDNN prefers NHWC too). Returned in
        # the default order, for saving and for other callers.
        self.model = SmallCNN(data.image_shape, data.num_classes, config.width).to(
            dev, memory_format=torch.channels_last)
        self.step_model = step_module(self.model, where, dev, self.speed)  # fp32 logits out
        batch_size = batch_within(config.batch_size, len(data), data.name)
        self.batches = BatchStream(len(data), batch_size, config.seed, where.rank,
                                   where.world_size)
        self.total_steps = config.steps or max(
            1, round(config.epochs * self.batches.batches_per_epoch))
        self.extra_batches = None if supplement is None else BatchStream(
            len(supplement.images), min(supplement.batch_size or config.batch_size,
                                        len(supplement.images)), config.seed + 1,
            where.rank, where.world_size)
        self.opt = torch.optim.AdamW(self.model.parameters(), lr=config.lr,
                                     weight_decay=config.weight_decay)
        self.schedule = torch.optim.lr_scheduler.OneCycleLR(self.opt, max_lr=config.lr,
                                                            total_steps=self.total_steps)
        self.model.train()
        self.step = 0

    def train_step(self) -> dict[str, torch.Tensor]:
        index = self.batches.next()
        images = self.data.images[index]
        if self.extra_batches is not None:
            extra_index = self.extra_batches.next()
            images = torch.cat([images, self.supplement.images[extra_index]])
        images = augment_batch(images, self.config.augment, self.augment_rng, flip=self.flip)
        images, labels = images.to(self.dev), self.data.labels[index].to(self.dev)
        if self.adversary is not None:  # attacks the plain model: DDP's hooks are for updates
            # In bf16 where the update is: the attack's steps cost most of an adversarial
            # update, and they use only the gradient's sign.
            with self.speed.autocast(self.dev):
                images = self.adversary(self.model, images, labels).float()
        logits = self.step_model(images)
        loss = F.cross_entropy(logits[:len(labels)], labels)
        if self.extra_batches is not None:
            loss = loss + self.supplement.weight * self.supplement.loss(logits[len(labels):],
                                                                        extra_index)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        self.schedule.step()
        return {"loss": loss.detach()}

    def weights(self) -> dict[str, Any]:
        return {"model": self.model.state_dict()}

    def optimizers(self) -> tuple[torch.optim.Optimizer, ...]:
        return (self.opt,)

    def training_state(self) -> dict[str, Any]:
        return {"opt": self.opt.state_dict(), "schedule": self.schedule.state_dict(),
                "augment_rng": self.augment_rng.get_state(),
                "batches_drawn": [self.batches.drawn,
                                  0 if self.extra_batches is None else self.extra_batches.drawn]}

    def load(self, weights: dict[str, Any], training: dict[str, Any]) -> None:
        self.model.load_state_dict(weights["model"])
        self.opt.load_state_dict(training["opt"])
        self.schedule.load_state_dict(training["schedule"])
        self.augment_rng.set_state(training["augment_rng"])
        self.batches.drawn = int(training["batches_drawn"][0])
        if self.extra_batches is not None:
            self.extra_batches.drawn = int(training["batches_drawn"][1])

    def save_checkpoint(self) -> Path | None:
        if self.checkpoint is not None and self.is_main:
            write_checkpoint(self.checkpoint, self, CHECKPOINT_KIND, asdict(self.config), {})
        return self.checkpoint

    def resume(self) -> None:
        """Continue from the checkpoint an interrupted training of the same config left."""
        state = load_state(self.checkpoint)
        if state.get("kind") != CHECKPOINT_KIND:
            raise GankitError(f"{self.checkpoint} is not a recogniser's training checkpoint "
                              "(or one from an older gankit); remove it to start afresh")
        if state["config"] != asdict(self.config):
            raise GankitError(f"{self.checkpoint} is the checkpoint of a recogniser with other "
                              "settings; remove it or train with the same ones")
        restore_checkpoint(self, state, self.checkpoint)


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
    return logit_accuracy(predict_logits(model, data.images), data.labels)


def logit_accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """The share of rows whose largest logit is their label's."""
    return (logits.argmax(dim=1) == labels.to(logits.device)).float().mean().item()
