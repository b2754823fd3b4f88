"""Genuine references beside the parcel's photos: authenticators compare, they do not judge in a
vacuum.

`python -m infer.review references --db review.db --manifest labels.csv ...` takes the genuine
photos of labelled listings, at most `per_group` of each brand, model and view, and stores in
the queue database a JPEG copy of each and its embedding by the model that judges the parcels
(`Inspector.embed`: the backbone's pooled features). A queued photo keeps its own embedding, so
the parcel page shows, per photo, the nearest genuine reference: the same view of the same shoe,
as the backbone sees it. Embeddings of different models are not comparable, so references are
kept per model run and a photo is compared only with those of the model that judged it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from infer.manifest import read_manifest
from infer.review.evidence import evidence_copy
from infer.review.queue import ReviewQueue

REFERENCE_SIDE = 1024
PER_GROUP = 12

def choose(manifests: list[str | Path], per_group: int = PER_GROUP, seed: int = 0):
    """The genuine photos to keep: at most `per_group` per (brand, model, view), spread over as
    many listings as there are (one photo per listing before a second from any)."""
    import pandas as pd

    frames = [read_manifest(m) for m in manifests]
    table = pd.concat(frames, ignore_index=True)
    table = table[table["label"] == "genuine"].copy()
    for column in ("brand", "model", "view"):
        if column not in table:
            table[column] = ""
        table[column] = table[column].fillna("").astype(str).str.strip().replace("", "unknown")
    table["listing"] = table["parcel_id"].fillna("").astype(str) if "parcel_id" in table else table["path"]
    table = table.sample(frac=1.0, random_state=seed)
    table["turn"] = table.groupby(["brand", "model", "view", "listing"]).cumcount()
    table = table.sort_values(["turn"], kind="stable")
    return table.groupby(["brand", "model", "view"], sort=True).head(per_group)


def build_references(db_path: str | Path, inspector, manifests: list[str | Path],
                     per_group: int = PER_GROUP) -> dict:
    """Replace the reference library of `inspector`'s model run in the queue at `db_path`."""
    queue = ReviewQueue(db_path)
    chosen = choose(manifests, per_group)
    run_id = inspector.identity.get("run_id")
    rows = []
    paths = list(chosen["path"])
    for start in tqdm(range(0, len(paths), 32), desc="embed references", unit="batch"):
        batch = chosen.iloc[start:start + 32]
        vectors = inspector.embed(list(batch["path"]))
        for (_, r), vector in zip(batch.iterrows(), vectors, strict=True):
            jpeg = evidence_copy(r["path"], str(r["path"]), max_side=REFERENCE_SIDE)
            if jpeg is None or not np.isfinite(vector).all():
                continue
            rows.append((r["brand"], r["model"], r["view"], Path(r["path"]).name, r["listing"],
                         jpeg, vector.astype(np.float32).tobytes()))
    queue.replace_references(run_id, rows)
    return {"references": len(rows), "groups": int(chosen.groupby(["brand", "model", "view"]).ngroups),
            "model_run_id": run_id}


def nearest(queue: ReviewQueue, photo_id: int) -> dict | None:
    """The genuine reference nearest to a queued photo (cosine of the embeddings), among those of
    the model run that judged it and of the photo's view when it is known and the library has
    that view; None without an embedding or references."""
    found = queue.photo_embedding(photo_id)
    if found is None or found[0] is None:
        return None
    embedding, run_id, view = found
    query = np.frombuffer(embedding, np.float32)
    refs = [r for r in queue.references(run_id) if len(r["embedding"]) == query.nbytes]
    same_view = [r for r in refs if view and r["view"] == view]
    refs = same_view or refs
    if not refs:
        return None
    similarity = np.stack([np.frombuffer(r["embedding"], np.float32) for r in refs]) @ query
    best = int(np.argmax(similarity))
    return {k: refs[best][k] for k in ("id", "brand", "model", "view", "name", "listing")} | {
        "similarity": round(float(similarity[best]), 4)}
