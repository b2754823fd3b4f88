"""MLflow pyfunc, logged as models-from-code: this file is the model definition.

Input: one row per photo with `parcel_id` and either `path` or `image` (base64 bytes), and
optionally the parcel's `dispatch_country` (checked against the labels' "made in").
Output: one row per parcel with the verdict fields; list/dict fields are JSON strings so the
frame serialises the same through `mlflow models serve` and in Python.
"""

from __future__ import annotations

import base64
import binascii
import json

import mlflow
import pandas as pd
from mlflow.pyfunc import PythonModel

ARTIFACT_KEY = "inspector"
OUTPUT_COLUMNS = [
    "parcel_id", "verdict", "counterfeit_probability", "brand", "brand_probability",
    "reasons", "photos", "model", "labels", "label_checks", "error",
]


def _photo(row: pd.Series, i: int):
    image = row.get("image")
    if isinstance(image, str) and image:
        try:
            return base64.b64decode(image, validate=True), f"<image #{i}>"
        except (binascii.Error, ValueError):
            return b"", f"<image #{i}: invalid base64>"
    if isinstance(image, bytes | bytearray) and image:
        return bytes(image), f"<image #{i}>"
    path = row.get("path")
    if isinstance(path, str) and path:
        return path, path
    return b"", f"<row #{i}: neither image nor path>"


def _first_text(group: pd.DataFrame, column: str) -> str | None:
    """A parcel-level column's value: the first non-empty one among the parcel's rows."""
    if column not in group:
        return None
    values = [str(v).strip() for v in group[column] if isinstance(v, str) and v.strip()]
    return values[0] if values else None


class InspectorModel(PythonModel):
    def load_context(self, context):
        from infer.inspector import Inspector

        config = context.model_config or {}
        self.inspector = Inspector.load(context.artifacts[ARTIFACT_KEY],
                                        backend=config.get("backend", "auto"),
                                        labels=bool(config.get("labels", True)))
        # The package is written before registration gives it a version; ask the registry, so
        # each served verdict names the version that judged it (kept in the liaison's audit).
        identity = self.inspector.identity
        if identity.get("version") is None and identity.get("name") and identity.get("run_id"):
            from infer.registry import registered_version

            identity["version"] = registered_version(identity["name"], identity["run_id"])

    def predict(self, context, model_input, params=None):
        from infer.inspector import NoReadablePhotos

        frame = pd.DataFrame(model_input)
        if "parcel_id" not in frame:
            frame["parcel_id"] = "parcel"
        rows = []
        for parcel_id, group in frame.groupby("parcel_id", sort=False):
            sources, names = zip(*(_photo(r, i) for i, r in group.iterrows()), strict=True)
            dispatch = _first_text(group, "dispatch_country")
            try:
                v = self.inspector.inspect(list(sources), parcel_id=str(parcel_id), names=names,
                                           dispatch_country=dispatch)
            except NoReadablePhotos as exc:
                rows.append({"parcel_id": str(parcel_id), "error": str(exc),
                             "photos": json.dumps([p.to_dict() for p in exc.errors])})
                continue
            d = v.to_dict()
            for key in ("reasons", "photos", "model", "labels", "label_checks"):
                d[key] = json.dumps(d[key])
            d["error"] = None
            rows.append(d)
        out = pd.DataFrame(rows, columns=OUTPUT_COLUMNS).astype(object)
        # None, not NaN, for fields an error row lacks: NaN is not valid JSON for the app.
        return out.where(out.notna(), None)


mlflow.models.set_model(InspectorModel())
