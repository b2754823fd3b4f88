"""The auxiliary reading head: what each synthetic photo's print says (`printed`), as targets
that real photos leave out and that serving never sees."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from infer.model import create_inspector_net, predict_arrays
from infer.package import load_package, save_package
from train.data import PhotoDataset, printed_targets, printed_vocabulary
from train.engine import defect_loss
from train.synthetic.brands import BRANDS, COUNTRIES
from train.synthetic.parcel import make_parcel


def test_the_generator_writes_what_the_print_says_typos_included():
    brand = next(iter(BRANDS))
    valid = {f"MADE IN {c}" for c in COUNTRIES}
    for seed in range(300):
        p = make_parcel(0, "p", brand, True, 1.0, np.random.default_rng(seed))
        if "label_typo" in p.defects and p.printed("label")[1] not in valid:
            break
    else:
        raise AssertionError("no fake in 300 draws with a misspelt made-in line on its tag")
    assert p.printed("label")[1].replace(" ", "") != ""
    genuine = make_parcel(1, "g", brand, False, None, np.random.default_rng(0))
    wordmark, made = genuine.printed("label")
    assert wordmark == BRANDS[brand].wordmark and made.removeprefix("MADE IN ") in BRANDS[brand].countries
    assert genuine.printed("box")[0] == wordmark
    assert genuine.printed("side") == genuine.printed("sole") == ()


def photos() -> pd.DataFrame:
    lines = ["ALAVIS;MADE IN VIETNAM"] * 3 + ["ALAVIS;MADE IN VIETMAN", "", "", "KESTRA;MADE IN CHINA",
                                             "KESTRA;MADE IN CHINA"]
    return pd.DataFrame({
        "source": ["0:synthetic"] * 8 + ["1:aj1-af1-photos"],
        "printed": lines + [np.nan],
        "target": [0.0] * 9,
        "brand": ["alavis"] * 4 + [""] * 2 + ["kestra"] * 2 + ["nike"],
    })


def test_rare_misprints_fall_out_of_the_vocabulary_and_real_photos_out_of_the_loss():
    df = photos()
    vocab = printed_vocabulary(df)
    assert vocab == ["ALAVIS", "KESTRA", "MADE IN CHINA", "MADE IN VIETNAM"]  # VIETMAN read once
    t = printed_targets(df, vocab)
    assert t[3].tolist() == [1, 0, 0, 0]  # the misprinted line reads as no known line
    assert t[4].tolist() == [0, 0, 0, 0]  # a sole: annotated, reads nothing
    assert t[8].tolist() == [-1, -1, -1, -1]  # a real photo: not annotated
    logits = torch.zeros(9, 4, requires_grad=True)
    defect_loss(logits, t).backward()
    assert logits.grad[8].abs().sum() == 0 and logits.grad[:8].abs().sum() > 0
    # Nothing from a source without the column.
    assert printed_vocabulary(df.drop(columns="printed")) == []


def test_dataset_carries_defect_then_printed_targets():
    df = photos().assign(visible_defects=["", "", "", "label_typo", "", "", "", "", ""])
    vocab = printed_vocabulary(df)
    item = PhotoDataset(np.zeros((9, 8, 8, 3), np.uint8), df, ["alavis", "kestra"],
                        defects=["label_typo"], printed=vocab)[3]
    assert item[3].tolist() == [1, 1, 0, 0, 0]


def test_reading_head_round_trips_and_leaves_serving_outputs_alone(tmp_path):
    torch.manual_seed(0)
    vocab = ["ALAVIS", "MADE IN VIETNAM"]
    net = create_inspector_net("tf_efficientnet_lite0", ["alavis", "kestra"], weights="none",
                               image_size=64, defects=["label_typo"], printed=vocab).eval()
    x = torch.randn(2, 3, 64, 64)
    cf, _, aux = net(x, aux=True)
    assert aux.shape == (2, 3)  # one defect kind, then two printed lines
    assert torch.equal(net(x)[0], cf)
    save_package(tmp_path / "pkg", net, {"pooling": "max"}, onnx=False)
    loaded, _ = load_package(tmp_path / "pkg")
    assert loaded.spec.printed == vocab and loaded.read_head is not None
    arrays = np.random.default_rng(0).integers(0, 255, (2, 64, 64, 3), dtype=np.uint8)
    np.testing.assert_allclose(predict_arrays(loaded, arrays)[0], predict_arrays(net, arrays)[0], atol=1e-6)
