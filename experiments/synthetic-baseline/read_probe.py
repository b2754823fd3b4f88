"""What a model's reading head (`train.read_loss_weight`) reads on the tag and box photos of a
manifest that has the generator's `printed` column. Per photo it takes the "made in" line the
head scores highest and checks it against the print; a misprinted line (not in the head's
vocabulary) should score low on every known line, so the AUROC of "no known line" separates
misprints from correct prints. The same for the brand name.

Usage: python experiments/synthetic-baseline/read_probe.py MODEL_DIR MANIFEST [MANIFEST...]"""

from __future__ import annotations

import json
import sys

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from infer.manifest import read_manifest
from infer.package import load_package
from infer.preprocess import normalize
from train.data import decode_all


def read_scores(net, images: np.ndarray, batch: int = 64) -> np.ndarray:
    out = []
    with torch.inference_mode():
        for i in range(0, len(images), batch):
            x = normalize(torch.from_numpy(images[i:i + batch]), net.spec.mean, net.spec.std)
            out.append(torch.sigmoid(net(x, aux=True)[2][:, len(net.spec.defects):]))
    return torch.cat(out).numpy()


def report(net, df) -> dict:
    vocab = net.spec.printed
    images, _ = decode_all(list(df["path"]), net.spec.image_size, "photos")
    probs = read_scores(net, images)
    out = {"photos": len(df)}
    for part, pick in (("made", lambda t: t.startswith("MADE")), ("wordmark", lambda t: not t.startswith("MADE"))):
        cols = [k for k, t in enumerate(vocab) if pick(t)]
        lines = [next((t for t in str(p).split(";") if pick(t)), "") for p in df["printed"]]
        known = np.array([line in vocab for line in lines])
        best = np.array([vocab[cols[j]] for j in probs[:, cols].argmax(1)])
        none_score = 1 - probs[:, cols].max(1)
        out[part] = dict(
            known=int(known.sum()), misprinted=int((~known).sum()),
            read_right=float((best[known] == np.array(lines)[known]).mean()),
            misprint_auroc=float(roc_auc_score(~known, none_score)) if 0 < known.sum() < len(known) else None,
        )
    return out


if __name__ == "__main__":
    net, _ = load_package(sys.argv[1])
    if not net.spec.printed:
        sys.exit(f"{sys.argv[1]}: this model has no reading head")
    for manifest in sys.argv[2:]:
        df = read_manifest(manifest)
        df = df[df["view"].isin(["label", "box"]) & df["printed"].fillna("").astype(bool)]
        print(manifest, json.dumps(report(net, df.reset_index(drop=True)), indent=1))
