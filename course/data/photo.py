"""A real photograph, offline: Grace Hopper's portrait from matplotlib's sample data (public domain,
US Navy), for trying kernels on a real image."""

from __future__ import annotations

import numpy as np

from course import _args

__all__ = ["load_photo"]

_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R BT.601 weights of R, G, B


def load_photo(gray: bool = False, size: int | None = None) -> np.ndarray:
    """Grace Hopper's portrait as float32 in [0, 1], rows first (H, W, 3) as `plt.imshow` expects.

    The original is (600, 512, 3). `gray=True` gives (H, W) luma, 0.299 R + 0.587 G + 0.114 B.
    `size=224` gives a size x size image: the largest centred square, resized (antialiased), e.g. the
    lecture's 224 x 224 x 3 input. For a convolution, move the channels first:
    `photo.transpose(2, 0, 1)[None]` is (1, 3, H, W).
    """
    gray = _args.flag("load_photo", "gray", gray)
    if size is not None:
        size = _args.positive_int("load_photo", "size", size)
    from matplotlib import cbook
    from PIL import Image

    with Image.open(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)) as image:
        image = image.convert("RGB")
        if size is not None:
            width, height = image.size
            side = min(width, height)
            left, top = (width - side) // 2, (height - side) // 2
            image = image.crop((left, top, left + side, top + side)).resize((size, size), Image.LANCZOS)
        photo = np.asarray(image, dtype=np.float32) / np.float32(255)
    if gray:
        return np.clip(photo @ _LUMA, 0, 1)
    return photo
