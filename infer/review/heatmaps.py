"""Grad-CAM heatmaps of the counterfeit logit, so a reviewer sees where the model looked.

Uses the `grad-cam` package (pytorch_grad_cam). The photo goes through exactly the inspector's
own decoding, letterboxing and normalisation, so the map explains the score that was shown.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import torch
from PIL import Image
from torch import nn

from infer.photos import PhotoError, PhotoSource, load_photo
from infer.preprocess import letterbox, normalize
from infer.review.evidence import to_jpeg

DISPLAY_SIZE = 384  # the model input can be 64 px in tests; overlays are drawn larger to be read


class CounterfeitLogit(nn.Module):
    """InspectorNet returns (counterfeit [N], brand [N,B]); grad-cam wants one [N, C] output."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        counterfeit, _ = self.net(images)
        return counterfeit.unsqueeze(-1)


def target_layer(net: nn.Module) -> nn.Module:
    """The backbone's last convolution: EfficientNet/MobileNet-style timm models name it
    `conv_head`; for other models take the last Conv2d that still has a spatial map."""
    backbone = net.backbone
    head = getattr(backbone, "conv_head", None)
    if isinstance(head, nn.Conv2d):
        return head
    convs = [m for m in backbone.modules() if isinstance(m, nn.Conv2d)]
    if not convs:
        raise ValueError(f"backbone {type(backbone).__name__} has no Conv2d layer for Grad-CAM")
    return convs[-1]


def content_box(size: tuple[int, int], side: int) -> tuple[int, int, int, int]:
    """(top, left, height, width) of the photo inside its `side`-px letterbox, as `letterbox`
    places it."""
    width, height = size
    scale = side / max(width, height)
    w, h = max(1, round(width * scale)), max(1, round(height * scale))
    return (side - h) // 2, (side - w) // 2, h, w


def top_photos(probabilities: Sequence[float | None], k: int = 3) -> list[int]:
    """Indices of the k readable photos with the highest counterfeit probability: the ones
    that drove a pooled (soft-maximum) verdict."""
    scored = [(p, i) for i, p in enumerate(probabilities) if p is not None]
    return [i for _, i in sorted(scored, key=lambda t: (-t[0], t[1]))[:k]]


def heatmaps(inspector, sources: Sequence[PhotoSource], names: Sequence[str],
             indices: Sequence[int]) -> dict[int, tuple[bytes, bool]]:
    """{index: (JPEG of the heatmap overlaid on the letterboxed photo, empty)} for the given
    photos. `empty`: Grad-CAM keeps only regions that raise the counterfeit logit, so on a photo
    the model finds genuine-looking the map can be all zero; the page says so instead of
    letting a flat overlay pass for "looked everywhere"."""
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.image import show_cam_on_image
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    net = inspector.net
    spec = net.spec
    arrays, bases, kept, boxes = [], [], [], []
    for i in indices:
        try:
            arrays.append(inspector._decode(sources[i], names[i]))
            photo = load_photo(sources[i], name=names[i])
            bases.append(letterbox(photo, DISPLAY_SIZE))
            boxes.append(content_box(photo.size, DISPLAY_SIZE))
            kept.append(i)
        except PhotoError:
            continue  # unreadable photos have no score, so nothing to explain
    if not kept:
        return {}
    x = normalize(np.stack(arrays), spec.mean, spec.std)
    was_training = net.training
    try:
        with GradCAM(model=CounterfeitLogit(net), target_layers=[target_layer(net)]) as cam:
            maps = cam(input_tensor=x, targets=[ClassifierOutputTarget(0)] * len(kept))
    finally:
        net.train(was_training)
        net.zero_grad(set_to_none=True)  # leave no gradients on a net that serves predictions
    out = {}
    for i, base, mask, (top, left, h, w) in zip(kept, bases, maps, boxes, strict=True):
        mask = cv2.resize(mask.astype(np.float32), (DISPLAY_SIZE, DISPLAY_SIZE),
                          interpolation=cv2.INTER_LINEAR)
        overlay = show_cam_on_image(base.astype(np.float32) / 255.0, np.clip(mask, 0, 1),
                                    use_rgb=True, image_weight=0.55)
        # Cut away the letterbox padding: the map then has the photo's own shape and the page
        # lays it over the photo.
        overlay = overlay[top:top + h, left:left + w]
        out[i] = (to_jpeg(Image.fromarray(overlay), quality=85), bool(mask.max() <= 0))
    return out
