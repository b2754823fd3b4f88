"""MLflow pyfunc, logged as models-from-code: this file is the model definition.

Input: one row per photo with `parcel_id` and `image` (base64 bytes, or a `data:` URI), and
optionally the parcel's `dispatch_country` (checked against the labels' "made in"). `path` (a
file on the server) is read only when the model is loaded with `model_config={"photo_folder":
...}`, and only inside that folder: otherwise a caller could probe which files the server has.
Output: one row per parcel with the verdict fields; `reasons`, `photos`, `model`, `labels` and
`label_checks` are lists and objects, in Python and in the served JSON alike.
"""

from __future__ import annotations

import base64
import binascii
import re
from pathlib import Path

import mlflow
import pandas as pd
from mlflow.pyfunc import PythonModel

ARTIFACT_KEY = "inspector"
OUTPUT_COLUMNS = [
    "parcel_id", "verdict", "counterfeit_probability", "brand", "brand_probability",
    "reasons", "photos", "model", "labels", "label_checks", "error",
]


DATA_URI = re.compile(r"^data:[\w/+.-]*(;[\w=.-]+)*;base64,", re.IGNORECASE)


def _photo(row: pd.Series, i: int, folder: Path | None):
    image = row.get("image")
    if isinstance(image, str) and image:
        try:
            return base64.b64decode(DATA_URI.sub("", image, count=1), validate=True), f"<image #{i}>"
        except (binascii.Error, ValueError):
            return b"", f"<image #{i}: invalid base64>"
    if isinstance(image, bytes | bytearray) and image:
        return bytes(image), f"<image #{i}>"
    path = row.get("path")
    if isinstance(path, str) and path:
        return _allowed_path(path, i, folder)
    return b"", f"<row #{i}: neither image nor path>"


def _allowed_path(path: str, i: int, folder: Path | None):
    """The file, if it lies inside the folder the model was loaded with; else an error that
    says the same whether or not such a file exists."""
    if folder is None:
        return b"", f"<row #{i}: path not accepted: this model reads uploaded images only>"
    resolved = (folder / path).resolve()
    if not resolved.is_relative_to(folder):
        return b"", f"<row #{i}: path not accepted: outside the photo folder>"
    return str(resolved), path


def _first_text(group: pd.DataFrame, column: str) -> str | None:
    """A parcel-level column's value: the first non-empty one among the parcel's rows."""
    if column not in group:
        return None
    values = [str(v).strip() for v in group[column] if isinstance(v, str) and v.strip()]
    return values[0] if values else None


def _require_parcel_ids(frame: pd.DataFrame) -> None:
    """Every row names its parcel: photos of several parcels must never be judged as one."""
    if "parcel_id" in frame:
        ids = frame["parcel_id"]
        missing = [int(i) for i in frame.index[ids.isna() | (ids.astype(str).str.strip() == "")]]
    else:
        missing = list(range(len(frame)))
    if missing:
        from mlflow.exceptions import MlflowException
        from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

        raise MlflowException(f"every row needs a parcel_id (the parcel its photo belongs to); rows "
                              f"without one: {missing[:10]}{' ...' if len(missing) > 10 else ''}",
                              error_code=INVALID_PARAMETER_VALUE)


class InspectorModel(PythonModel):
    def load_context(self, context):
        from infer.inspector import Inspector

        config = context.model_config or {}
        folder = config.get("photo_folder")
        self.photo_folder = Path(folder).resolve() if folder else None
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
        _require_parcel_ids(frame)
        rows = []
        for parcel_id, group in frame.groupby("parcel_id", sort=False):
            sources, names = zip(*(_photo(r, i, self.photo_folder) for i, r in group.iterrows()), strict=True)
            dispatch = _first_text(group, "dispatch_country")
            try:
                v = self.inspector.inspect(list(sources), parcel_id=str(parcel_id), names=names,
                                           dispatch_country=dispatch)
            except NoReadablePhotos as exc:
                rows.append({"parcel_id": str(parcel_id), "error": str(exc),
                             "photos": [p.to_dict() for p in exc.errors]})
                continue
            d = v.to_dict()
            d["error"] = None
            rows.append(d)
        out = pd.DataFrame(rows, columns=OUTPUT_COLUMNS).astype(object)
        # None, not NaN, for fields an error row lacks: NaN is not valid JSON for the app.
        return out.where(out.notna(), None)


mlflow.models.set_model(InspectorModel())
