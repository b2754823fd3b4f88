"""One epoch of training and batched prediction; nothing here knows about MLflow or files."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from infer.model import InspectorNet
from infer.preprocess import normalize


def freeze_early_stages(net: InspectorNet, stages: int) -> None:
    """Freeze the stem and the first `stages` blocks (EfficientNet/MobileNet-style backbones)."""
    if stages <= 0:
        return
    backbone = net.backbone
    if not hasattr(backbone, "blocks"):
        raise ValueError(f"train.freeze_stages needs a backbone with `blocks`; {net.spec.backbone} has none")
    modules = [getattr(backbone, n) for n in ("conv_stem", "bn1") if hasattr(backbone, n)]
    modules += list(backbone.blocks[:stages])
    for module in modules:
        for p in module.parameters():
            p.requires_grad_(False)


def _depth(name: str, n_blocks: int) -> int:
    """0 for the stem, i + 1 for backbone block i, n_blocks + 1 for what follows the blocks."""
    parts = name.split(".")
    if len(parts) > 2 and parts[1] == "blocks" and parts[2].isdigit():
        return int(parts[2]) + 1
    if parts[1] in ("conv_stem", "bn1", "stem"):
        return 0
    return n_blocks + 1


def build_optimizer(
    net: InspectorNet, lr: float, backbone_scale: float, weight_decay: float, layer_decay: float = 1.0
):
    n_blocks = len(getattr(net.backbone, "blocks", ()))
    groups: dict[tuple[float, bool], list[nn.Parameter]] = {}
    for name, p in net.named_parameters():
        if not p.requires_grad:
            continue
        if name.startswith("backbone."):
            scale = backbone_scale * layer_decay ** (n_blocks + 1 - _depth(name, n_blocks))
        else:
            scale = 1.0
        decay = p.ndim > 1  # no decay on norms and biases
        groups.setdefault((scale, decay), []).append(p)
    return torch.optim.AdamW(
        [
            {"params": params, "lr": lr * scale, "weight_decay": weight_decay if decay else 0.0}
            for (scale, decay), params in groups.items()
        ]
    )


def warmup_cosine(optimizer, total_steps: int, warmup_steps: int):
    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / max(1, warmup_steps)
        progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
        return 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def masked_losses(cf_logit, brand_logits, target, brand, brand_class_weights=None):
    """Each head learns only from rows that carry its label. `brand_class_weights` [B]: per-brand
    weights of the brand loss (see `train.data.brand_class_weights`)."""
    has_label = target >= 0
    has_brand = brand >= 0
    zero = cf_logit.sum() * 0.0
    cf_loss = (
        F.binary_cross_entropy_with_logits(cf_logit[has_label], target[has_label])
        if has_label.any()
        else zero
    )
    brand_loss = (
        F.cross_entropy(brand_logits[has_brand], brand[has_brand], weight=brand_class_weights)
        if has_brand.any()
        else zero
    )
    return cf_loss, brand_loss


def train_one_epoch(
    net, loader, optimizer, scheduler, *, brand_weight, channels_last, max_steps, desc,
    brand_class_weights=None,
) -> dict[str, float]:
    """One pass over `loader`; the mean losses per step."""
    net.train()
    # A DistributedDataParallel wrapper keeps the InspectorNet (and its spec) in `.module`.
    spec = getattr(net, "module", net).spec
    mean, std = spec.mean, spec.std
    device = next(net.parameters()).device
    class_weights = None if brand_class_weights is None else brand_class_weights.to(device)
    keys = ("loss", "counterfeit_loss", "brand_loss")
    totals = dict.fromkeys(keys, 0.0)
    steps = 0
    bar = tqdm(loader, desc=desc, unit="batch", leave=False)
    for images, target, brand in bar:
        # Photos are decoded and augmented on the CPU; the step runs where the weights are.
        x = normalize(images.to(device, non_blocking=True), mean, std)
        target, brand = target.to(device, non_blocking=True), brand.to(device, non_blocking=True)
        # normalize() permutes NHWC photos, which leaves channels_last strides: make the layout
        # the flag's, so train.channels_last=false really trains on NCHW tensors.
        x = x.contiguous(memory_format=torch.channels_last if channels_last else torch.contiguous_format)
        cf_logit, brand_logits = net(x)
        cf_loss, brand_loss = masked_losses(cf_logit, brand_logits, target, brand, class_weights)
        loss = cf_loss + brand_weight * brand_loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        steps += 1
        # One device-to-host copy per step for the three losses, not one `.item()` sync each.
        values = torch.stack([loss, cf_loss, brand_loss]).detach().tolist()
        for key, value in zip(keys, values, strict=True):
            totals[key] += value
        # refresh=False: tqdm redraws on its own clock (mininterval) rather than every step.
        bar.set_postfix(loss=f"{totals['loss'] / steps:.3f}", refresh=False)
        if max_steps and steps >= max_steps:
            break
    return {k: v / max(1, steps) for k, v in totals.items()}
