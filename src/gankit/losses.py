"""GAN objectives on discriminator logits, and the gradient penalties.

Every loss is a pair of scalars to *minimise*: one for D, one for G. D(x) = sigmoid(logit)
(least squares reads the raw output instead).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from gankit.registry import Registry


def minimax_value(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """V(D, G) = E[log D(x)] + E[log(1 - D(G(z)))] (Goodfellow et al. 2014, eq. 1)."""
    # log sigmoid(a) = -softplus(-a) and log(1 - sigmoid(a)) = -softplus(a), both stable.
    return -F.softplus(-real_logits).mean() - F.softplus(fake_logits).mean()


@dataclass(frozen=True)
class GANLoss:
    """One objective: the D and G losses, and the gradient-penalty weight it is defined with."""

    name: str
    gradient_penalty: float = 0.0

    @property
    def relativistic(self) -> bool:
        """Whether G's loss needs D's logits on real images too (paired with the fakes')."""
        return self.name == "relativistic"

    def discriminator(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        if self.relativistic:  # each real image paired with one fake
            return F.softplus(fake_logits - real_logits).mean()
        if self.name in ("minimax", "nonsaturating"):
            return -minimax_value(real_logits, fake_logits)  # D ascends V
        if self.name == "hinge":
            return F.relu(1 - real_logits).mean() + F.relu(1 + fake_logits).mean()
        if self.name == "least-squares":
            return (real_logits - 1).pow(2).mean() + fake_logits.pow(2).mean()
        return fake_logits.mean() - real_logits.mean()  # wasserstein critic

    def generator(self, fake_logits: torch.Tensor,
                  real_logits: torch.Tensor | None = None) -> torch.Tensor:
        if self.relativistic:
            if real_logits is None:
                raise ValueError("the relativistic loss pairs G's fakes with real logits")
            return F.softplus(real_logits - fake_logits).mean()
        if self.name == "minimax":
            return -F.softplus(fake_logits).mean()  # G descends E[log(1 - D(G(z)))]
        if self.name == "nonsaturating":
            return F.softplus(-fake_logits).mean()  # G ascends E[log D(G(z))]
        if self.name == "least-squares":
            return (fake_logits - 1).pow(2).mean()
        return -fake_logits.mean()  # hinge and wasserstein


LOSSES: Registry[GANLoss] = Registry("loss")
LOSSES.add("minimax", GANLoss("minimax"),
           "the paper's objective with the saturating G loss log(1 - D(G(z)))")
LOSSES.add("nonsaturating", GANLoss("nonsaturating"),
           "same D, G maximises log D(G(z)) (Goodfellow et al. 2014, sec. 3)")
LOSSES.add("hinge", GANLoss("hinge"),
           "hinge loss (Lim & Ye 2017; Miyato et al. 2018)")
LOSSES.add("least-squares", GANLoss("least-squares"),
           "least squares with targets 1 and 0 (Mao et al. 2017, LSGAN)")
LOSSES.add("relativistic", GANLoss("relativistic"),
           "relativistic pairing, D on D(real) - D(fake) (Jolicoeur-Martineau 2019; RpGAN, "
           "Sun et al. 2020); with --r1 and --r2 the R3GAN objective (Huang et al. 2024)")
LOSSES.add("wasserstein", GANLoss("wasserstein", gradient_penalty=10.0),
           "WGAN-GP critic loss with gradient penalty 10 (Gulrajani et al. 2017)")


def gradient_penalty(discriminator: nn.Module, real: torch.Tensor, fake: torch.Tensor,
                     labels: torch.Tensor | None = None,
                     generator: torch.Generator | None = None) -> torch.Tensor:
    """E[(||grad D(x_hat)|| - 1)^2] on random interpolates x_hat (Gulrajani et al. 2017)."""
    alpha = torch.rand(real.shape[0], 1, 1, 1, generator=generator, device=real.device)
    mixed = (alpha * real + (1 - alpha) * fake.detach()).requires_grad_(True)
    (grad,) = torch.autograd.grad(discriminator(mixed, labels).sum(), mixed, create_graph=True)
    return (grad.flatten(1).norm(dim=1) - 1).pow(2).mean()


def r1_penalty(discriminator: nn.Module, real: torch.Tensor,
               labels: torch.Tensor | None = None) -> torch.Tensor:
    """E[||grad D(x)||^2] on real data; the trainer multiplies by gamma/2
    (Mescheder et al. 2018, "Which Training Methods for GANs do actually Converge?")."""
    real = real.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(discriminator(real, labels).sum(), real, create_graph=True)
    return grad.flatten(1).pow(2).sum(dim=1).mean()


def r2_penalty(discriminator: nn.Module, fake: torch.Tensor,
               labels: torch.Tensor | None = None) -> torch.Tensor:
    """R1's penalty on generated images (Roth et al. 2017; R3GAN, Huang et al. 2024, show
    that RpGAN with R1 and R2 together converges locally); the trainer multiplies by
    gamma/2."""
    return r1_penalty(discriminator, fake, labels)


def mode_seeking_penalty(images_a: torch.Tensor, images_b: torch.Tensor, z_a: torch.Tensor,
                         z_b: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """1 / (mean|G(z_a) - G(z_b)| / mean|z_a - z_b|): large when two latents give nearly the
    same image, so G minimising it spreads its samples (Mao et al. 2019, "Mode Seeking
    Generative Adversarial Networks for Diverse Image Synthesis", eq. 3)."""
    ratio = (images_a - images_b).abs().mean() / (z_a - z_b).abs().mean()
    return 1 / (ratio + eps)
