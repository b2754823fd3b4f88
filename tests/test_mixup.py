"""`train.mixup`: batches blended with a shuffled copy of themselves, each head still learning
only from photos that carry its label."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from infer.model import create_inspector_net
from infer.preprocess import normalize
from train.config import ConfigError, load_config
from train.engine import (
    build_optimizer,
    masked_losses,
    mix_aux_targets,
    mixed_losses,
    train_one_epoch,
    warmup_cosine,
)


def test_without_blending_mixup_losses_are_the_masked_losses():
    torch.manual_seed(0)
    cf, brands = torch.randn(5), torch.randn(5, 3)
    target = torch.tensor([1.0, 0.0, 1.0, 0.0, 1.0])
    brand = torch.tensor([0, 2, 1, 1, 0])
    same = mixed_losses(cf, brands, target, brand, 1.0, torch.arange(5))
    for a, b in zip(same, masked_losses(cf, brands, target, brand), strict=True):
        torch.testing.assert_close(a, b)


def test_blended_targets_and_rows_missing_a_label_are_left_out():
    torch.manual_seed(0)
    cf, brands = torch.randn(4), torch.randn(4, 3)
    target = torch.tensor([1.0, 0.0, -1.0, 1.0])  # row 2: brand only
    brand = torch.tensor([0, -1, 2, 1])  # row 1: counterfeit label only
    perm = torch.tensor([1, 0, 3, 2])
    lam = 0.7
    cf_loss, brand_loss = mixed_losses(cf, brands, target, brand, lam, perm)
    # Rows 0 and 1 blend two labelled photos: target 0.7 * 1 + 0.3 * 0 and 0.7 * 0 + 0.3 * 1.
    expected = F.binary_cross_entropy_with_logits(cf[:2], torch.tensor([0.7, 0.3]))
    torch.testing.assert_close(cf_loss, expected)
    # Rows 2 and 3 blend in a brand-only photo: their counterfeit scores do not matter ...
    moved = cf.clone()
    moved[2:] += 5.0
    torch.testing.assert_close(mixed_losses(moved, brands, target, brand, lam, perm)[0], cf_loss)
    # ... and only they carry two brands; the brand loss blends the two brands' losses.
    expected = lam * F.cross_entropy(brands[2:], brand[2:]) + (1 - lam) * F.cross_entropy(brands[2:], brand[perm][2:])
    torch.testing.assert_close(brand_loss, expected)


def test_aux_targets_are_blended_only_where_both_photos_are_annotated():
    aux = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0]])
    mixed = mix_aux_targets(aux, 0.25, torch.tensor([1, 0, 0]))
    torch.testing.assert_close(mixed[0], torch.tensor([0.25, 0.75]))
    torch.testing.assert_close(mixed[1], torch.tensor([0.75, 0.25]))
    assert torch.all(mixed[2] == -1.0)


def test_the_network_trains_on_the_blend_of_the_batch_and_its_shuffle():
    torch.manual_seed(0)
    net = create_inspector_net("tf_efficientnet_lite0", ["a", "b"], "none", 64)
    images = torch.randint(0, 256, (4, 64, 64, 3), dtype=torch.uint8)
    batch = [(images, torch.tensor([1.0, 0.0, 1.0, 0.0]), torch.tensor([0, 1, 1, 0]))]
    seen = []
    net.register_forward_pre_hook(lambda _module, args: seen.append(args[0].detach().clone()))
    optimizer = build_optimizer(net, 1e-3, 0.5, 1e-4)
    scheduler = warmup_cosine(optimizer, 1, 0)

    torch.manual_seed(1)
    losses = train_one_epoch(net, batch, optimizer, scheduler, brand_weight=0.5, channels_last=False,
                             max_steps=0, desc="mixup", mixup=0.4)
    # The same draws, in the same order as train_one_epoch makes them.
    torch.manual_seed(1)
    lam = float(torch.distributions.Beta(0.4, 0.4).sample())
    perm = torch.randperm(4)
    x = normalize(images, net.spec.mean, net.spec.std)
    assert 0.0 < lam < 1.0 and not torch.equal(perm, torch.arange(4))
    torch.testing.assert_close(seen[0], lam * x + (1 - lam) * x[perm])
    assert losses["counterfeit_loss"] > 0.0 and losses["loss"] > losses["counterfeit_loss"]


@pytest.mark.parametrize("bad", ["-0.2", "-1"])
def test_negative_mixup_is_refused(bad):
    with pytest.raises(ConfigError, match="train.mixup"):
        load_config(None, [f"train.mixup={bad}"])
