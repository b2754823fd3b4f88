"""Everything MLflow: the run, its parameters, figures, tables, and the registered model."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import mlflow
import pandas as pd
from mlflow import MlflowClient
from mlflow.models import ModelSignature
from mlflow.types import ColSpec, Schema

import infer
from infer.mlflow_model import ARTIFACT_KEY, OUTPUT_COLUMNS
from infer.registry import tracking_uri

PIP_REQUIREMENTS = [
    "torch>=2.4", "timm>=1.0,<2", "safetensors>=0.4", "pillow>=10.1", "numpy>=1.24",
    "pandas>=2.0", "tqdm>=4.60", "mlflow>=3.0,<4",
]


def start(experiment: str, run_name: str | None):
    mlflow.set_tracking_uri(tracking_uri())
    mlflow.set_experiment(experiment)
    return mlflow.start_run(run_name=run_name or None)


def child_run(name: str):
    return mlflow.start_run(run_name=name, nested=True)


def log_params(params: dict) -> None:
    # MLflow caps a param value at 6000 chars; 500 keeps the UI readable.
    mlflow.log_params({k: str(v)[:500] for k, v in params.items()})


def log_text(text: str, artifact_file: str) -> None:
    mlflow.log_text(text, artifact_file)


def log_artifact(path: str | Path, folder: str | None = None) -> None:
    mlflow.log_artifact(str(path), folder)


def log_metrics(metrics: dict, prefix: str, step: int | None = None) -> None:
    clean = {f"{prefix}/{k}": float(v) for k, v in metrics.items() if v is not None}
    mlflow.log_metrics(clean, step=step)


def log_figures(figures: dict, folder: str) -> None:
    import matplotlib.pyplot as plt

    for name, fig in figures.items():
        mlflow.log_figure(fig, f"{folder}/{name}")
        plt.close(fig)


def log_table(table: pd.DataFrame, name: str) -> None:
    if table is None or table.empty:
        return
    mlflow.log_table(table.reset_index(), artifact_file=f"{name}.json")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{name}.csv"
        table.to_csv(path, float_format="%.4f")
        mlflow.log_artifact(str(path), artifact_path="evaluation")


def signature() -> ModelSignature:
    inputs = Schema([
        ColSpec("string", "parcel_id", required=False),
        ColSpec("string", "path", required=False),
        ColSpec("string", "image", required=False),
    ])
    types = {"counterfeit_probability": "double", "brand_probability": "double"}
    outputs = Schema([ColSpec(types.get(c, "string"), c, required=False) for c in OUTPUT_COLUMNS])
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


def log_and_register(
    package_dir: Path, register_as: str, alias: str, example: pd.DataFrame | None = None
) -> dict:
    """Log the package as a models-from-code pyfunc, register it, point `alias` at it."""
    infer_dir = Path(infer.__file__).parent
    info = mlflow.pyfunc.log_model(
        name="model",
        python_model=str(infer_dir / "mlflow_model.py"),
        artifacts={ARTIFACT_KEY: str(package_dir)},
        code_paths=[str(infer_dir)],
        signature=signature(),
        input_example=example,
        pip_requirements=PIP_REQUIREMENTS,
        registered_model_name=register_as or None,
    )
    result = {"model_uri": info.model_uri, "name": None, "version": None}
    if register_as:
        version = str(info.registered_model_version)
        client = MlflowClient(tracking_uri=tracking_uri())
        if alias:
            client.set_registered_model_alias(register_as, alias, version)
        result.update(name=register_as, version=version)
    return result


def log_json(data: dict, artifact_file: str) -> None:
    mlflow.log_text(json.dumps(data, indent=2, sort_keys=True, default=str), artifact_file)
