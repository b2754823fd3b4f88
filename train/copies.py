"""Copies of one photo filed under different parcels: found, kept on one side of every split.

Scraped sets repeat photos: a seller reposts a listing, an export adds augmented copies (the
aj1-af1 photos came from one, and hold 11 pairs of one photo under two listing ids, one of them
labelled both counterfeit and genuine). A split by `parcel_id` alone would put a photo in
training and its copy in the test set, and the model would be scored on recognising it.

A photo's signature is its letterboxed image box-averaged to 32x32 grey, centred and scaled to
unit length; two photos are copies when the signatures correlate at `threshold` or more. Measured
with `experiments/real-photos/near_duplicates.py` and on the decoded training arrays: the aj1-af1
copies (resized or re-encoded) correlate above 0.999; the next pair there, a copy rotated by a
few degrees, at 0.96, and is not caught; two different synthetic parcels (two logo close-ups)
at most at 0.98. The sneaker-brands thumbnails hold 58 pairs at 0.995 or more, among them one
screenshot of a web page filed as nine photos of six brands.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

SIGNATURE_SIDE = 32
# Photos this flat (a blank frame, an unreadable photo's zeros) match each other by accident.
MIN_CONTRAST = 2.0  # grey levels, standard deviation over the 32x32 signature


def signatures(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """[N, S, S, 3] uint8 -> ([N, 1024] unit-length float32 signatures, [N] contrast)."""
    n, s = images.shape[0], images.shape[1]
    side = min(SIGNATURE_SIDE, s)  # inputs under 32 px: one cell a pixel
    k = s // side
    out = np.empty((n, side * side), np.float32)
    contrast = np.empty(n, np.float32)
    for start in range(0, n, 512):  # bounded memory on sets of tens of thousands of photos
        block = images[start : start + 512, : k * side, : k * side]
        grey = block.astype(np.float32).mean(axis=-1)
        grey = grey.reshape(len(block), side, k, side, k).mean(axis=(2, 4))
        flat = grey.reshape(len(block), -1)
        flat -= flat.mean(axis=1, keepdims=True)
        contrast[start : start + len(block)] = flat.std(axis=1)
        out[start : start + len(block)] = flat / (np.linalg.norm(flat, axis=1, keepdims=True) + 1e-6)
    return out, contrast


def copy_pairs(
    images: np.ndarray, groups: np.ndarray, usable: np.ndarray, threshold: float
) -> list[tuple[int, int, float]]:
    """(i, j, correlation) for photos i < j of different `groups` whose signatures correlate at
    `threshold` (`data.copy_threshold`) or more; rows not `usable` (unreadable) are left out."""
    sig, contrast = signatures(images)
    keep = np.flatnonzero(usable & (contrast >= MIN_CONTRAST))
    sig, grp = sig[keep], np.asarray(groups)[keep]
    pairs = []
    for start in range(0, len(keep), 1024):
        sim = sig[start : start + 1024] @ sig.T
        rows, cols = np.nonzero(sim >= threshold)
        for r, c in zip(rows, cols, strict=True):
            i, j = start + r, c
            if i < j and grp[i] != grp[j]:
                pairs.append((int(keep[i]), int(keep[j]), float(sim[r, c])))
    return pairs


def merge_groups(groups: pd.Series, pairs: list[tuple[int, int, float]]) -> pd.Series:
    """`groups` (one label per photo, positional) with every two groups that share a copy made
    one: the label kept is the smallest of the merged ones, so the result does not depend on the
    order of the pairs."""
    parent: dict[str, str] = {}

    def find(g: str) -> str:
        while parent.get(g, g) != g:
            parent[g] = parent.get(parent[g], parent[g])
            g = parent[g]
        return g

    values = groups.to_numpy()
    for i, j, _ in pairs:
        a, b = find(values[i]), find(values[j])
        if a != b:
            parent[max(a, b)] = min(a, b)
    return groups.map(find)


def copies_of_held_out(split: pd.Series, pairs: list[tuple[int, int, float]]) -> np.ndarray:
    """Positions of training photos that are copies of a validation or test photo. Merged groups
    keep copies together where a source's parcels are dealt out; this catches the rest: a copy in
    a train-only source of a photo in a test-only one."""
    values = split.to_numpy()
    out = set()
    for i, j, _ in pairs:
        for a, b in ((i, j), (j, i)):
            if values[a] == "train" and values[b] in ("val", "test"):
                out.add(a)
    return np.array(sorted(out), dtype=int)
