"""Mode coverage on stacked data (gankit.data.stacked): each generated image's three channels
are classified by a recogniser of the grayscale data, the triple names its mode, and the
histogram of modes is compared with the uniform one the data has (Metz et al. 2017; the
measure R3GAN reports, Huang et al. 2024: modes covered and KL to uniform)."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch


def count_modes(images: torch.Tensor, channel_logits: Callable[[torch.Tensor], torch.Tensor],
                classes: int) -> dict[str, float]:
    """Modes hit by uint8 images (N, 3, H, W), and KL(histogram || uniform over classes^3)."""
    digits = [channel_logits(images[:, c : c + 1]).argmax(dim=1).cpu() for c in range(3)]
    modes = digits[0] * classes**2 + digits[1] * classes + digits[2]
    total = classes**3
    share = torch.bincount(modes, minlength=total).double() / len(modes)
    hit = share[share > 0]
    return {"modes": int(len(hit)), "of": total, "n": len(modes),
            "kl_to_uniform": float((hit * (hit * total).log()).sum()),
            "kl_if_all_one_mode": math.log(total)}
