"""The recogniser: a small CNN that every gankit measurement of "can a model recognise it"
uses (domain features for metrics now; augmentation, attacks and translation later)."""

from __future__ import annotations

import torch
from torch import nn

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
