"""Put a judged parcel into the review queue: every `review` verdict, plus a random audit share
of the parcels the model decided alone, each with evidence copies and Grad-CAM heatmaps."""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from infer.photos import PhotoSource
from infer.review.evidence import evidence_copy
from infer.review.queue import ReviewQueue, should_queue
from infer.review.records import CheckedRecord, check_record, has_record
from infer.review.views import view_of

DEFAULT_AUDIT_SHARE = 0.05
HEATMAP_PHOTOS = 3


def enqueue(queue: ReviewQueue, verdict, photos_sources: Sequence[PhotoSource], inspector=None,
            audit_share: float = DEFAULT_AUDIT_SHARE, rng: random.Random | None = None,
            heatmap_photos: int = HEATMAP_PHOTOS,
            record: dict | CheckedRecord | None = None,
            views: Sequence[str | None] | None = None) -> int | None:
    """Row id of the queued parcel, or None if it was not drawn for audit.

    `verdict`: a ParcelVerdict (or its to_dict()); `photos_sources` in the verdict's photo order.
    `inspector`: the one that judged the parcel, for heatmaps (None: no heatmaps).
    `record`: the parcel's export declaration (any of `infer.cases.records.PARCEL_COLUMNS`),
    which case linking reads; unless already checked (`records.check_record`) it is checked
    here, and a value that cannot be read is stored as null with its problem
    (`ReviewQueue.record`), never refused.
    `views`: each photo's view when the app knows it (else read off the file name, or unknown).
    Queuing the same parcel again for the same model run returns the existing row, so a
    resumed manifest run does not duplicate work for the liaison; a record given then is stored.
    """
    verdict_dict = verdict if isinstance(verdict, dict) else verdict.to_dict()
    why = should_queue(verdict_dict["verdict"], audit_share, rng or random.Random())
    if why is None:
        return None
    if isinstance(record, dict):
        record = check_record(verdict_dict["parcel_id"], record) if has_record(record) else None
    existing = queue.find(verdict_dict["parcel_id"], (verdict_dict.get("model") or {}).get("run_id"))
    if existing is not None:
        if record is not None:
            queue.set_record(existing, record.values, record.problem_dicts())
        return existing
    verdict_dict = with_queue_context(verdict_dict, inspector)
    results = verdict_dict["photos"]
    if len(results) != len(photos_sources):
        raise ValueError(f"parcel {verdict_dict['parcel_id']}: {len(photos_sources)} photo sources for "
                         f"{len(results)} photos in the verdict")
    names = [r["path"] for r in results]
    maps = {}
    if inspector is not None and heatmap_photos > 0:
        from infer.review.heatmaps import heatmaps, top_photos

        chosen = top_photos([r.get("counterfeit_probability") for r in results], heatmap_photos)
        maps = heatmaps(inspector, photos_sources, names, chosen)
    # Each photo's embedding, to find its nearest genuine reference (infer/review/references.py).
    vectors = inspector.embed(photos_sources, names) if inspector is not None else None
    photos = []
    for i, (src, name, result) in enumerate(zip(photos_sources, names, results, strict=True)):
        heatmap, empty = maps.get(i, (None, None))
        scores = result if heatmap is None else {**result, "heatmap_empty": empty}
        vector = None if vectors is None or not np.isfinite(vectors[i]).all() else vectors[i]
        shown = Path(name).name if isinstance(src, str | Path) else name
        photos.append({"name": shown, "jpeg": evidence_copy(src, name), "scores": scores,
                       "heatmap": heatmap, "embedding": vector,
                       "view": view_of(shown, views[i] if views is not None else None)})
    return queue.add(verdict_dict, why, photos, None if record is None else record.values,
                     () if record is None else record.problem_dicts())


def with_queue_context(record: dict, inspector) -> dict:
    """The verdict as the liaison's page needs it: the model's brand list (the brand is chosen
    from it, never pre-filled) and the model's registered version, asked of the registry now
    when the package did not know it (a model loaded from a run folder)."""
    record = {**record, "model": dict(record.get("model") or {})}
    if inspector is not None:
        record["brands"] = list(inspector.brands)
    model = record["model"]
    if model.get("version") is None and model.get("name") and model.get("run_id"):
        from infer.registry import registered_version

        model["version"] = registered_version(model["name"], model["run_id"])
    return record


def queue_verdict(db_path: str | Path, inspector, verdict, photos: Sequence[PhotoSource],
                  audit_share: float = DEFAULT_AUDIT_SHARE,
                  rng: random.Random | None = None,
                  record: dict | CheckedRecord | None = None,
                  views: Sequence[str | None] | None = None) -> int | None:
    """One call for the inspection app: open (or create) the queue at `db_path` and enqueue."""
    return enqueue(ReviewQueue(db_path), verdict, photos, inspector, audit_share, rng, record=record,
                   views=views)
