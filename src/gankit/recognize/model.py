"""The recogniser: a small CNN that every gankit measurement of "can a model recognise it"
uses (domain features for metrics now; augmentation, attacks and translation later)."""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

FEATURE_DIM = 256


def _conv(c_in: int, c_out: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out),
            nn.ReLU(inplace=True)]


class SmallCNN(nn.Module):
    """Two VGG-style stages (2 convs + max-pool each), adaptive pooling to 4x4, a 256-unit
    penultimate layer (`embed`) and a linear classifier. Works for any image of side >= 4."""

    def __init__(self, image_shape: tuple[int, int, int], num_classes: int,
                 width: int = 32) -> None:
        super().__init__()
        self.image_shape, self.num_classes, self.width = tuple(image_shape), num_classes, width
        self.trunk = nn.Sequential(
            *_conv(image_shape[0], width), *_conv(width, width), nn.MaxPool2d(2),
            *_conv(width, 2 * width), *_conv(2 * width, 2 * width), nn.MaxPool2d(2),
            nn.AdaptiveAvgPool2d(4), nn.Flatten(),
            nn.Linear(2 * width * 16, FEATURE_DIM), nn.ReLU(inplace=True),
        )
        self.dropout = nn.Dropout(0.3)
        self.classifier = nn.Linear(FEATURE_DIM, num_classes)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate features, (N, 256)."""
        return self.trunk(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.dropout(self.embed(x)))


def inference_copy(model: nn.Module) -> nn.Module:
    """A frozen eval-mode copy of `model` for the many passes of an attack: every batch norm
    that follows a convolution in a `Sequential` is folded into it (the same function up to
    float rounding), the weights need no gradient (an attack differentiates the input only, and
    a `backward()` would otherwise compute every weight's gradient too), and the memory order
    is channels-last, which oneDNN runs faster. Forward hooks come along with the copy."""
    frozen = copy.deepcopy(model).eval()
    for module in frozen.modules():
        if not isinstance(module, nn.Sequential):
            continue
        for i in range(len(module) - 1):
            conv, norm = module[i], module[i + 1]
            if (isinstance(conv, nn.Conv2d) and isinstance(norm, nn.BatchNorm2d)
                    and norm.track_running_stats):
                module[i], module[i + 1] = fuse_conv_bn_eval(conv, norm), nn.Identity()
    return frozen.requires_grad_(False).to(memory_format=torch.channels_last)
