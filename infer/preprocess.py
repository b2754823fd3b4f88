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


# A fine-grained cue (a toe box's perforations, a stitch line, a misprinted letter) can be a few
# pixels wide once a 640-px photo is letterboxed to 224. With `NetSpec.detail_size` the photo is
# letterboxed at a multiple of the network's input size instead, and the network sees it as
# several views of `size`: the whole photo box-averaged down, and a grid of crops at full detail.
DETAIL_GRID = 3  # crops per side: half-overlapping tiles when detail_size = 2 * size


def downscale(arrays: np.ndarray, size: int) -> np.ndarray:
    """[..., S, S, 3] uint8 letterboxed at S = k * size -> [..., size, size, 3]: each output pixel
    the mean of a k x k block, which is what letterboxing at `size` directly would give up to
    resampling."""
    s = arrays.shape[-2]
    if s == size:
        return arrays
    k = s // size
    if k * size != s:
        raise ValueError(f"photos letterboxed at {s} px cannot be box-averaged to {size} px")
    # k * k strided slices summed in uint16: ~15x faster than a float mean over a reshaped
    # array, and this runs on every training draw. Halves round up.
    total = np.zeros((*arrays.shape[:-3], size, size, 3), np.uint16)
    for dy in range(k):
        for dx in range(k):
            total += arrays[..., dy::k, dx::k, :]
    return ((total + (k * k) // 2) // (k * k)).astype(np.uint8)


def crop_offsets(s: int, size: int, grid: int = DETAIL_GRID) -> list[int]:
    """Top-left offsets of `grid` evenly spaced crops of `size` along a side of `s`."""
    return sorted({int(round(v)) for v in np.linspace(0, s - size, grid)})


def detail_views(arrays: np.ndarray, size: int) -> np.ndarray:
    """[N, S, S, 3] photos letterboxed at S (a multiple of `size`) -> [N, V, size, size, 3]:
    view 0 the whole photo (`downscale`), then the grid of crops row by row."""
    s = arrays.shape[1]
    offsets = crop_offsets(s, size)
    views = [downscale(arrays, size)]
    views += [arrays[:, y : y + size, x : x + size] for y in offsets for x in offsets]
    return np.stack(views, axis=1)
