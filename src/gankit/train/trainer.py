"""The GAN training loop: alternate D and G updates, log, sample, checkpoint, resume exactly."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from gankit.data import ImageDataset, load_dataset
from gankit.device import seeded_generator
from gankit.distributed import init_distributed, wrap
from gankit.errors import GankitError
from gankit.imaging import save_grid
from gankit.io import atomic_write, writable_folder
from gankit.losses import LOSSES, gradient_penalty, mode_seeking_penalty, r1_penalty, r2_penalty
from gankit.models import Generator, build_gan
from gankit.runs import check_free_for, refuse_edited_config
from gankit.train.batches import BatchStream
from gankit.train.config import TrainConfig, config_yaml, make_config
from gankit.train.diffaugment import diff_augment, parse_policy
from gankit.train.ema import EMA, refresh_batch_norm
from gankit.train.logging import MetricsLog
from gankit.train.loop import Budget, Recovery, run_loop
from gankit.train.method_run import Checkpointed, read_checkpoint, restore_checkpoint
from gankit.train.rundir import RunDir
from gankit.train.speed import critic_module, resolve

# Options that may change when a run is resumed; everything else must match the checkpoint.
RESUMABLE_OVERRIDES = ("steps", "epochs", "minutes", "log_every", "sample_every",
                       "checkpoint_every", "keep_checkpoints", "rollbacks", "device", "amp",
                       "channels_last", "compile", "pin_memory")
BATCH_NORM_REFRESH_BATCHES = 8
# Collapse: the fixed-noise images' spread (mean pairwise distance) fell below this share of the
# real images' and below COLLAPSE_DROP of the best the run has had, checked once the first
# tenth of the budget is done (a generator starts out as a near-constant image).
COLLAPSE_SPREAD, COLLAPSE_DROP = 0.1, 0.25
# The discriminator wins outright: D(real) above and D(fake) below these for this many logged
# intervals in a row (losses whose D outputs a probability only).
SATURATED_D, SATURATED_INTERVALS = (0.99, 0.01), 3
PROBABILITY_LOSSES = ("minimax", "nonsaturating")


@dataclass(frozen=True)
class TrainSummary:
    run_dir: Path
    steps: int  # the run's step at the end
    done: int  # steps this call trained (less than `steps` after a resume)
    seconds: float
    images_per_s: float
    samples: Path
    stopped_by: str  # "steps", "minutes" or "interrupt"


class GANTrainer:
    """Trains one GAN into one run directory. `fit()` runs until the step or time budget."""

    def __init__(self, config: TrainConfig, out_dir: str | Path, *,
                 data: ImageDataset | None = None, progress: bool = True,
                 tensorboard: bool = True) -> None:
        self.config = config
        self.run = RunDir(out_dir)
        self.progress, self.tensorboard = progress, tensorboard
        self.dist, self.device = init_distributed(config.device)
        self.data = data if data is not None else load_dataset(
            config.data, "train", root=config.data_root, image_size=config.image_size,
            per_class=config.per_class, seed=config.seed, holdout=config.holdout)
        if config.conditional and not self.data.labeled:
            raise GankitError(f"--conditional needs class labels and {self.data.name} has none; "
                              "use class sub-folders or drop --conditional")
        self.num_classes = self.data.num_classes if config.conditional else 0
        self.loss = LOSSES.get(config.loss)
        self.diff_augment = parse_policy(config.diffaugment)

        torch.manual_seed(config.seed)  # initial weights
        self.G, self.D = build_gan(config.model, self.data.image_shape, z_dim=config.z_dim,
                                   num_classes=self.num_classes, width=config.width)
        self.speed = resolve(self.device, amp=config.amp, channels_last=config.channels_last,
                             compile=config.compile, pin_memory=config.pin_memory)
        self.G = self.speed.prepare(self.G.to(self.device))
        self.D = self.speed.prepare(self.D.to(self.device))
        if self.speed.pin_memory:
            self.data = replace(self.data, images=self.data.images.pin_memory())
        # The updates go through DDP when several processes train together (and through
        # torch.compile when asked); self.G and self.D stay the plain modules, which
        # checkpoints, EMA and sampling use.
        self.G_step, self.D_step = (wrap(m, self.dist, self.device) for m in (self.G, self.D))
        if self.speed.compile:
            self.G_step, self.D_step = torch.compile(self.G_step), torch.compile(self.D_step)
        self.D_critic = critic_module(self.D, self.device, self.speed)  # for G's update
        self.ema = EMA(self.G, config.ema) if config.ema > 0 else None
        betas = (config.beta1, config.beta2)
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=config.lr_g, betas=betas)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=config.lr_d, betas=betas)
        # --batch-size is the global batch: each of the world's ranks takes its strided share.
        self.batches = BatchStream(len(self.data), config.batch_size, config.seed,
                                   self.dist.rank, self.dist.world_size)
        self.noise = seeded_generator(config.seed + 1, self.device)
        self.total_steps = config.total_steps(len(self.data))
        self.step = 0
        meta = {"image_shape": list(self.data.image_shape), "classes": list(self.data.classes),
                "dataset": self.data.name, "dataset_size": len(self.data)}
        self.checkpoints = Checkpointed(self, self.run.checkpoint, "gan", config.to_dict(), meta,
                                        self.dist, keep=config.keep_checkpoints)
        self.health_state = {"spread_peak": 0.0, "saturated": 0}  # kept in checkpoints too
        spread_sample = torch.randperm(len(self.data), generator=torch.Generator().manual_seed(
            config.seed))[:64]
        self._real_spread = _spread(self.data.images[spread_sample])

        fixed = seeded_generator(config.seed + 2, self.device)
        n_fixed = 8 * max(self.num_classes, 8) if self.num_classes else 64
        self.grid_rows = self.num_classes or 8
        self.fixed_z = torch.randn(n_fixed, config.z_dim, generator=fixed, device=self.device)
        self.fixed_labels = (torch.arange(n_fixed, device=self.device) % self.num_classes
                             if self.num_classes else None)

    # ---- one step -------------------------------------------------------------------------
    def _real_batch(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        index = self.batches.next()
        images = self.speed.images(self.data.images[index].to(self.device, non_blocking=True))
        labels = self.data.labels[index].to(self.device) if self.num_classes else None
        return images, labels

    def _latents(self) -> torch.Tensor:
        """This rank's share of the global batch's latents: every rank draws them all from
        the same stream, so K processes see exactly the latents one process would."""
        z = torch.randn(self.config.batch_size, self.config.z_dim, generator=self.noise,
                        device=self.device)
        return z[self.dist.rank :: self.dist.world_size]

    def train_step(self) -> dict[str, torch.Tensor]:
        """`d_steps` discriminator updates, then one generator update. Returns detached scalars."""
        cfg, G, D = self.config, self.G_step, self.D_step
        reuse = cfg.reuse_fakes and not cfg.mode_seeking
        for d_step in range(cfg.d_steps):
            real, labels = self._real_batch()
            z = self._latents()
            for_g = reuse and d_step == cfg.d_steps - 1  # its graph serves G's update
            with torch.set_grad_enabled(for_g), self.speed.autocast(self.device):
                fake = G(z, labels)
            if for_g:
                fake_g, fake = fake, fake.detach()
            real, fake = self._augment(real), self._augment(fake.float())
            with self.speed.autocast(self.device):
                real_logits, fake_logits = D(real, labels), D(fake, labels)
            # Losses in fp32, whatever precision the networks ran in.
            real_logits, fake_logits = real_logits.float(), fake_logits.float()
            loss_d = self.loss.discriminator(real_logits, fake_logits)
            if self.loss.gradient_penalty:
                loss_d = loss_d + self.loss.gradient_penalty * gradient_penalty(
                    D, real, fake, labels, generator=self.noise)
            # Lazy R1/R2: the penalties' double backward is most of a small D's step.
            if (self.step * cfg.d_steps + d_step) % cfg.reg_every == 0:
                if cfg.r1:
                    loss_d = loss_d + 0.5 * cfg.r1 * cfg.reg_every * r1_penalty(D, real, labels)
                if cfg.r2:
                    loss_d = loss_d + 0.5 * cfg.r2 * cfg.reg_every * r2_penalty(D, fake, labels)
            self.opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            self.opt_d.step()

        paired = None
        if self.loss.relativistic:  # the last real batch, for G's pairs (no gradient to D)
            with torch.no_grad(), self.speed.autocast(self.device):
                paired = self.D(real, labels).float()
        if not reuse:
            z = self._latents()
            if cfg.mode_seeking:
                # Pairs of latents with the same labels: the first half's, repeated.
                half = z.shape[0] // 2
                z = torch.cat([z[:half], z[half : 2 * half]])
                labels = None if labels is None else labels[:half].repeat(2)
            with self.speed.autocast(self.device):
                fake_g = G(z, labels)
        with self.speed.autocast(self.device):
            fake_logits_g = self.D_critic(self._augment(fake_g), labels)  # fp32 logits
        paired = None if paired is None else paired[: len(fake_logits_g)]
        keep = self.top_k_kept(len(fake_logits_g))
        if keep < len(fake_logits_g):
            chosen = fake_logits_g.flatten().topk(keep).indices
            fake_logits_g = fake_logits_g[chosen]
            paired = None if paired is None else paired[chosen]
        loss_g = self.loss.generator(fake_logits_g, paired)
        if cfg.mode_seeking:
            fake_g = fake_g.float()
            loss_g = loss_g + cfg.mode_seeking * mode_seeking_penalty(
                fake_g[:half], fake_g[half:], z[:half], z[half:])
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        if self.ema is not None:
            self.ema.update(self.G, self.step)
        return {"loss_d": loss_d.detach(), "loss_g": loss_g.detach(),
                "d_real": torch.sigmoid(real_logits.detach()).mean(),
                "d_fake": torch.sigmoid(fake_logits.detach()).mean()}

    def top_k_kept(self, batch: int) -> int:
        """How many of G's `batch` samples its loss keeps at this step: the share decays by
        0.99 per epoch of generator batches from 1 to `top_k` (Sinha et al. 2020, section 3),
        a function of the step alone, so a resumed run keeps the same schedule."""
        epochs = self.step * self.config.batch_size / len(self.data)
        share = max(self.config.top_k, 0.99**epochs)
        return max(1, min(batch, round(share * batch)))

    def _augment(self, images: torch.Tensor) -> torch.Tensor:
        """What D sees: DiffAugment'ed images when the config asks for it."""
        if not self.diff_augment:
            return images
        return diff_augment(images, self.diff_augment, self.noise)

    # ---- the loop -------------------------------------------------------------------------
    def fit(self) -> TrainSummary:
        """Train until the budget; under torchrun every rank calls this, rank 0 writes."""
        cfg, main = self.config, self.dist.is_main
        if main:
            check_free_for(self.run.path, "gan")
            writable_folder(self.run.path)
            atomic_write(self.run.config, config_yaml(cfg).encode())
        log = MetricsLog(self.run.metrics, self.run.tensorboard if self.tensorboard else None,
                         resume_step=self.step) if main else None
        budget = Budget(self.total_steps, cfg.minutes, cfg.log_every, cfg.checkpoint_every)

        def samples() -> None:
            if self.step % cfg.sample_every == 0 and main:
                self.save_samples(self.run.samples / f"step_{self.step:07d}.png")

        result = run_loop(
            self, budget, self.dist, self.device, log=log, progress=self.progress,
            images_per_step=cfg.batch_size * cfg.d_steps, checkpoint=self.run.checkpoint,
            hint="try lower --lr-g/--lr-d, --loss hinge or --r1 10",
            before_step=self._decay_learning_rates if cfg.lr_decay else None,
            after_step=samples, recovery=Recovery(cfg.rollbacks) if cfg.rollbacks else None)
        samples_path = self.run.path / "samples.png"
        if main:
            self.save_samples(samples_path)
        return TrainSummary(self.run.path, result.steps, result.done, result.seconds,
                            result.done * cfg.batch_size * cfg.d_steps
                            / max(result.seconds, 1e-9), samples_path, result.stopped_by)

    def _decay_learning_rates(self, elapsed: float) -> None:
        """Linear decay to 0 over the last `lr_decay` of the budget. Progress is the larger of
        the step and the wall-clock shares, so a minutes budget decays on time; it follows
        from the step and the time since `fit()` began, so a resumed run needs no extra state
        (its minutes count from the resume, like its budget)."""
        cfg = self.config
        progress = max(self.step / self.total_steps,
                       Budget(self.total_steps, cfg.minutes).time_share(elapsed))
        scale = min(1.0, max(0.0, 1 - progress) / cfg.lr_decay)
        for opt, lr in ((self.opt_g, cfg.lr_g), (self.opt_d, cfg.lr_d)):
            for group in opt.param_groups:
                group["lr"] = lr * scale * self.lr_scale

    # ---- recovery (gankit.train.loop.Recovery) --------------------------------------------
    def health(self, scalars: dict[str, float]) -> str | None:
        """Problems the losses do not show: mode collapse (the fixed-noise images all alike)
        and a discriminator that wins outright (no gradient left for G)."""
        health = self.health_state
        if self.config.loss in PROBABILITY_LOSSES and "d_real" in scalars:
            won = scalars["d_real"] > SATURATED_D[0] and scalars["d_fake"] < SATURATED_D[1]
            health["saturated"] = health["saturated"] + 1 if won else 0
            if health["saturated"] >= SATURATED_INTERVALS:
                return (f"the discriminator wins outright (D(real) {scalars['d_real']:.3f}, "
                        f"D(fake) {scalars['d_fake']:.3f} for {health['saturated']} intervals)")
        share = self.spread_share()
        peak = health["spread_peak"] = max(health["spread_peak"], share)
        if (self.step >= 0.1 * self.total_steps and share < COLLAPSE_SPREAD
                and share < COLLAPSE_DROP * peak):
            return (f"mode collapse: the fixed-noise images are {share:.1%} as spread out as "
                    f"real images (the run had {peak:.1%})")
        return None

    def spread_share(self, generator: torch.nn.Module | None = None) -> float:
        """How spread out the fixed-noise images of `generator` (default: the live one) are,
        as a share of a real batch's spread: about 1 when healthy, 0 when it draws one image."""
        generator = generator or self.G
        with torch.no_grad():
            was_training = generator.training
            generator.eval()
            images = generator(self.fixed_z[:64], None if self.fixed_labels is None
                               else self.fixed_labels[:64]).float()
            generator.train(was_training)
        return _spread(images) / max(self._real_spread, 1e-12)

    # ---- images ---------------------------------------------------------------------------
    def sampling_generator(self) -> Generator:
        """The generator to draw images with: the EMA one (with batch-norm statistics of its own
        weights) when kept, else the live one. Uses its own noise, not the training stream."""
        if self.ema is None:
            return self.G
        gen = seeded_generator(self.config.seed + 3, self.device)
        z_dim, k = self.config.z_dim, max(self.num_classes, 1)

        def batches():
            for _ in range(BATCH_NORM_REFRESH_BATCHES):
                z = torch.randn(256, z_dim, generator=gen, device=self.device)
                labels = torch.randint(k, (256,), generator=gen, device=self.device)
                yield z, (labels if self.num_classes else None)

        refresh_batch_norm(self.ema.model, batches())
        return self.ema.model

    @torch.no_grad()
    def save_samples(self, path: Path) -> Path:
        G = self.sampling_generator()
        was_training = G.training
        G.eval()
        images = G.draw(self.fixed_z, self.fixed_labels)
        G.train(was_training)
        # Small images are enlarged so that a grid is readable at a glance (28 px -> 56 px).
        return save_grid(images, path, nrow=self.grid_rows, scale=max(1, 64 // images.shape[-1]))

    # ---- state (gankit.train.method_run's layout) -----------------------------------------
    def weights(self) -> dict[str, Any]:
        weights = {"generator": self.G.state_dict(), "discriminator": self.D.state_dict()}
        if self.ema is not None:  # with batch-norm statistics of its own weights
            weights["generator_ema"] = self.sampling_generator().state_dict()
        return weights

    def training_state(self) -> dict[str, Any]:
        return {"opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict(),
                "noise_rng": self.noise.get_state(), "batches_drawn": self.batches.drawn,
                "health": dict(self.health_state)}

    def optimizers(self) -> tuple[torch.optim.Optimizer, ...]:
        return self.opt_g, self.opt_d

    def load(self, weights: dict[str, Any], training: dict[str, Any]) -> None:
        self.G.load_state_dict(weights["generator"])
        self.D.load_state_dict(weights["discriminator"])
        self.opt_g.load_state_dict(training["opt_g"])
        self.opt_d.load_state_dict(training["opt_d"])
        if self.ema is not None:
            self.ema.model.load_state_dict(weights["generator_ema"])
        self.noise.set_state(training["noise_rng"])
        self.batches.drawn = int(training["batches_drawn"])
        saved = training.get("health", {})  # checkpoints from before rollbacks have none
        self.health_state = {"spread_peak": float(saved.get("spread_peak", 0.0)),
                             "saturated": int(saved.get("saturated", 0))}

    @property
    def lr_scale(self) -> float:
        """What rollbacks multiplied the learning rates by; kept in checkpoints."""
        return self.checkpoints.lr_scale

    def state_dict(self) -> dict[str, Any]:
        return self.checkpoints.state()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.checkpoints.lr_scale = restore_checkpoint(self, state, self.run.checkpoint)

    def save_checkpoint(self) -> Path:
        """Rank 0 writes, once per step (atomically, so a crash anywhere leaves the last one
        whole); the newest `keep_checkpoints` earlier ones stay in history/."""
        return self.checkpoints.save_checkpoint()

    def restore_checkpoint(self) -> int:
        """Back to the last checkpoint's exact state (weights, optimisers, EMA, streams), but
        for the learning rates: the scale earlier rollbacks set stays (they compound)."""
        return self.checkpoints.restore_checkpoint()

    def scale_learning_rate(self, factor: float) -> float:
        return self.checkpoints.scale_learning_rate(factor)

    @classmethod
    def resume(cls, run_dir: str | Path, overrides: dict[str, Any] | None = None, *,
               data: ImageDataset | None = None, progress: bool = True,
               tensorboard: bool = True) -> GANTrainer:
        """Continue a run exactly where its checkpoint stopped; only budgets and logging
        intervals (RESUMABLE_OVERRIDES) may change."""
        run = RunDir(run_dir)
        state = read_checkpoint(run.require_checkpoint())
        if state.get("kind") != "gan":
            raise GankitError(f"{run.checkpoint} is not a GAN run's checkpoint; train one with "
                              "gankit train")
        refuse_edited_config(run.path, RESUMABLE_OVERRIDES)
        overrides = dict(overrides or {})
        fixed = sorted(k for k in overrides if k not in RESUMABLE_OVERRIDES)
        if fixed:
            raise GankitError(f"cannot change {', '.join(fixed)} when resuming; only "
                              f"{', '.join(RESUMABLE_OVERRIDES)} may change")
        config = make_config({**state["config"], **overrides}, source=str(run.checkpoint))
        trainer = cls(config, run.path, data=data, progress=progress, tensorboard=tensorboard)
        expected = tuple(state["meta"]["image_shape"]), state["meta"]["dataset_size"]
        if (trainer.data.image_shape, len(trainer.data)) != expected:
            raise GankitError(f"the data of {run.path} changed since its checkpoint (was "
                              f"{expected[1]} images of {expected[0]}); cannot resume exactly")
        trainer.load_state_dict(state)
        return trainer


def _spread(images: torch.Tensor) -> float:
    """Mean pairwise L2 distance between the images: 0 when they are all one image."""
    flat = images.flatten(1).float().cpu()
    return float(torch.pdist(flat).mean())
