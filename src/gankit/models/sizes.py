"""Which square image sizes the convolutional architectures can produce."""

from __future__ import annotations

from gankit.errors import GankitError

SUPPORTED_EXAMPLES = "8, 10, 12, 14, 16, 20, 24, 28, 32, 40, 48, 56, 64, 96, 128"


def conv_plan(image_shape: tuple[int, int, int], model: str) -> tuple[int, int]:
    """Split a side length into base * 2**n with base in 4..7 and n >= 1 (28 = 7*4, 32 = 4*8).

    The generator starts at base x base and doubles n times; the discriminator halves n times.
    """
    _, height, width = image_shape
    if height != width:
        raise GankitError(f"model {model!r} needs square images, got {height}x{width}; "
                          "pass --image-size N")
    base, doublings = height, 0
    while base % 2 == 0 and base // 2 >= 4:
        base //= 2
        doublings += 1
    if doublings == 0 or base > 7:
        raise GankitError(f"model {model!r} cannot make {height}x{width} images; it supports "
                          f"base*2^n with base 4-7 ({SUPPORTED_EXAMPLES}, ...): pass --image-size")
    return base, doublings
