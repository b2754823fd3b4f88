"""A second look at the brand, from a crop around the shoe (`NetSpec.shoe_crop`).

In a street photo, or a photo of a whole opened parcel, the shoe can fill a tenth of the frame,
and its logo is a few pixels once the photo is letterboxed to the network's input. Catalogue
photos, which the brand head learns from, fill the frame. So the brand is read twice: from the
whole photo and from a crop around the shoe, and the two probability vectors are averaged. The
counterfeit score stays the whole photo's (a crop did not help it: experiments/real-photos).

The shoe is found by a network that never saw our data: the wheel's ImageNet EfficientNet-Lite0,
whose classifier knows footwear. Applied to each cell of its feature map (14x14: the photo is
letterboxed at 448 px), it gives each cell's footwear probability; the crop holds the cells at
half the best cell's or more, plus a cell of margin. No crop where the shoe already fills the
photo, where no cell is sure of a shoe, or where the crop would be smaller than the network's
input in photo pixels (a thumbnail's crop is an upsampled blur). These rules were fixed before any brand accuracy was measured with them.
"""

from __future__ import annotations

import threading

import numpy as np
from PIL import Image

from infer.preprocess import letterbox

# ImageNet classes: clog, cowboy boot, Loafer, running shoe, sandal.
FOOTWEAR = (502, 514, 630, 770, 774)
LOCATOR = "tf_efficientnet_lite0"
# 448 px, a 14x14 map: on studio shoes pasted onto textured surfaces, where the
# answer is known, it finds the shoe in 69% of scenes against 35% at 224 px (7x7), with boxes
# half as loose (experiments/real-photos/locator_probe.py). Street photos, the held-out test,
# did not choose it.
LOCATOR_SIZE = 448
MIN_SHOE = 0.5  # best cell's footwear probability below this: no shoe found, no crop
WHOLE_AREA = 0.8  # a crop covering this share of the photo or more is the photo
# Photos are decoded (JPEG draft) with at least this many pixels on the shorter side for the
# crop, so a crop of a large photo keeps its detail: up to 3x the input's.
CROP_DECODE_FACTOR = 3

_lock = threading.Lock()
_locator = None


NEEDS_TORCH = ("the brand from a crop around the shoe (shoe_crop) runs an ImageNet network in "
               "PyTorch: install it with `pip install 'counterfeit-inspector[train]'`, or load the "
               "model with shoe_crop=False")


def locator():
    """The ImageNet network, built once per process (torch and timm are imported here only)."""
    global _locator
    with _lock:
        if _locator is None:
            try:
                import timm
            except ImportError as exc:
                raise ImportError(NEEDS_TORCH) from exc

            from infer.weights import load_backbone_weights

            net = timm.create_model(LOCATOR, pretrained=False)
            load_backbone_weights(net, LOCATOR, "imagenet")
            _locator = net.eval()
    return _locator


def footwear_maps(arrays: np.ndarray, batch_size: int = 32) -> np.ndarray:
    """[N, s/32, s/32] footwear probability of each cell of photos letterboxed at s px."""
    try:
        import torch
    except ImportError as exc:
        raise ImportError(NEEDS_TORCH) from exc

    from infer.preprocess import normalize

    net = locator()
    weight, bias = net.classifier.weight, net.classifier.bias
    out = []
    with torch.inference_mode():
        for start in range(0, len(arrays), batch_size):
            x = normalize(torch.from_numpy(np.ascontiguousarray(arrays[start : start + batch_size])),
                          (0.5,) * 3, (0.5,) * 3)
            fmap = net.forward_features(x)
            logits = torch.einsum("nchw,kc->nhwk", fmap, weight) + bias
            out.append(torch.softmax(logits, -1)[..., list(FOOTWEAR)].sum(-1).float().numpy())
    return np.concatenate(out) if out else np.zeros((0, LOCATOR_SIZE // 32, LOCATOR_SIZE // 32), np.float32)


def shoe_box(size: tuple[int, int], cells: np.ndarray, min_side: int,
             locator_size: int = LOCATOR_SIZE) -> tuple[int, int, int, int] | None:
    """The region (x0, y0, x1, y1, photo pixels) around the shoe in a photo of `size` (w, h),
    from its footwear map (of the photo letterboxed at `locator_size`); None where the whole
    photo should be used."""
    w, h = size
    if cells.max() < MIN_SHOE:
        return None
    scale = locator_size / max(w, h)
    nw, nh = round(w * scale), round(h * scale)
    top, left = (locator_size - nh) // 2, (locator_size - nw) // 2
    ys, xs = np.where(cells >= 0.5 * cells.max())
    cell = locator_size / cells.shape[0]
    x0, x1 = np.clip([(xs.min() - 1) * cell, (xs.max() + 2) * cell], left, left + nw)
    y0, y1 = np.clip([(ys.min() - 1) * cell, (ys.max() + 2) * cell], top, top + nh)
    x0, x1, y0, y1 = (x0 - left) / scale, (x1 - left) / scale, (y0 - top) / scale, (y1 - top) / scale
    bw, bh = max(x1 - x0, min(min_side, w)), max(y1 - y0, min(min_side, h))
    if bw * bh >= WHOLE_AREA * w * h:
        return None
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    x0, y0 = float(np.clip(cx - bw / 2, 0, w - bw)), float(np.clip(cy - bh / 2, 0, h - bh))
    return int(x0), int(y0), int(round(x0 + bw)), int(round(y0 + bh))


def shoe_crops(images: list[Image.Image], min_side: int, size: int) -> tuple[np.ndarray, list[int]]:
    """Crops around the shoe, letterboxed at `size`, and the indices of the photos that got one.
    `images` should be decoded with at least CROP_DECODE_FACTOR * min_side px on the shorter
    side where the photo has them: the crop is cut from these pixels."""
    if not images:
        return np.zeros((0, size, size, 3), np.uint8), []
    maps = footwear_maps(np.stack([letterbox(im, LOCATOR_SIZE) for im in images]))
    crops, index = [], []
    for i, (im, cells) in enumerate(zip(images, maps, strict=True)):
        box = shoe_box(im.size, cells, min_side)
        if box is not None:
            crops.append(letterbox(im.crop(box), size))
            index.append(i)
    return (np.stack(crops) if crops else np.zeros((0, size, size, 3), np.uint8)), index


def with_crops(probs: np.ndarray, crop_probs: np.ndarray, index: list[int]) -> np.ndarray:
    """Brand probabilities [N, B] of whole photos with those of their crops averaged in, for the
    photos `index` that got one (serving and training's test evaluation both go through here)."""
    out = np.array(probs, dtype=np.float64, copy=True)
    out[index] = (out[index] + crop_probs) / 2
    return out
