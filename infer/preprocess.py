"""The one preprocessing path shared by training and serving.

Photos are letterboxed (whole photo kept, padded to a square) rather than centre-cropped: a
defect at the toe or on the edge of a label must not be cropped away before the model sees it.
Training augments the letterboxed array; serving uses it as is.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image

PAD_VALUE = 128  # mid-grey: ~0 after the usual normalisations, no fake edge for the model


def letterbox(img: Image.Image, size: int) -> np.ndarray:
    """HxWx3 uint8 array of `size`x`size`, the photo scaled to fit and centred."""
    width, height = img.size
    scale = size / max(width, height)
    new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
    resized = img.resize((new_w, new_h), Image.Resampling.BILINEAR, reducing_gap=3.0)
    canvas = np.full((size, size, 3), PAD_VALUE, dtype=np.uint8)
    top, left = (size - new_h) // 2, (size - new_w) // 2
    canvas[top : top + new_h, left : left + new_w] = np.asarray(resized, dtype=np.uint8)
    return canvas


def normalize(batch, mean: Sequence[float], std: Sequence[float]):
    """NxHxWx3 (or HxWx3) uint8 -> Nx3xHxW float tensor, normalised (on the tensor's device).
    torch is imported here, not at the top: serving through onnxruntime uses `normalize_array`
    and never needs it."""
    import torch

    tensor = torch.as_tensor(np.ascontiguousarray(batch)) if isinstance(batch, np.ndarray) else batch
    if tensor.ndim == 3:
        tensor = tensor.unsqueeze(0)
    tensor = tensor.permute(0, 3, 1, 2).float().div_(255.0)
    mean_t = torch.tensor(mean, dtype=torch.float32, device=tensor.device).view(1, 3, 1, 1)
    std_t = torch.tensor(std, dtype=torch.float32, device=tensor.device).view(1, 3, 1, 1)
    return tensor.sub_(mean_t).div_(std_t)


def normalize_array(batch: np.ndarray, mean: Sequence[float], std: Sequence[float]) -> np.ndarray:
    """`normalize` in numpy, for onnxruntime: the same float32 operations in the same order, so
    both backends see the same input to the last bit (tests/test_onnx.py checks it)."""
    x = np.asarray(batch)
    if x.ndim == 3:
        x = x[None]
    x = x.transpose(0, 3, 1, 2).astype(np.float32) / np.float32(255.0)
    x -= np.asarray(mean, np.float32).reshape(1, 3, 1, 1)
    x /= np.asarray(std, np.float32).reshape(1, 3, 1, 1)
    return np.ascontiguousarray(x)
