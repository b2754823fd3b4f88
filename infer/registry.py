"""Find a model: a local folder, an MLflow URI, or the newest registered version."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"
REGISTERED_NAME = "counterfeit-inspector"


def tracking_uri() -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI


def registry_uri() -> str:
    return os.environ.get("MLFLOW_REGISTRY_URI") or tracking_uri()


def _client():
    # A client bound to the URI, not mlflow.set_tracking_uri: loading a model must not move the
    # caller's process-wide tracking URI.
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=tracking_uri(), registry_uri=registry_uri())


def newest_version(name: str = REGISTERED_NAME):
    from mlflow.exceptions import MlflowException

    try:
        versions = _client().search_model_versions(f"name='{name}'")
    except MlflowException:
        versions = []
    if not versions:
        raise LookupError(
            f"no registered model {name!r} in {tracking_uri()}: train one with `python -m train` "
            "or pass --model PATH_OR_URI"
        )
    return max(versions, key=lambda v: int(v.version))


def registered_version(name: str, run_id: str) -> str | None:
    """The newest version of `name` registered from `run_id`, or None when the registry cannot
    be asked (a served model started without one). Best effort with a short timeout: the
    version is metadata on each verdict, not a reason to hold up serving."""
    from mlflow.environment_variables import (
        MLFLOW_HTTP_REQUEST_MAX_RETRIES,
        MLFLOW_HTTP_REQUEST_TIMEOUT,
    )

    saved = {v.name: os.environ.get(v.name) for v in (MLFLOW_HTTP_REQUEST_MAX_RETRIES,
                                                      MLFLOW_HTTP_REQUEST_TIMEOUT)}
    os.environ.update({MLFLOW_HTTP_REQUEST_MAX_RETRIES.name: "0", MLFLOW_HTTP_REQUEST_TIMEOUT.name: "5"})
    try:
        versions = _client().search_model_versions(f"name='{name}' and run_id='{run_id}'")
    except Exception:  # noqa: BLE001 -- any failure means "unknown", never a failed load
        return None
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return str(max(int(v.version) for v in versions)) if versions else None


def _identity_for(uri: str) -> dict[str, Any]:
    """name/version/run_id of a models:/ or runs:/ URI, from the tracking server."""
    client = _client()
    if uri.startswith("models:/"):
        rest = uri[len("models:/") :].strip("/")
        if "@" in rest:
            name, alias = rest.split("@", 1)
            mv = client.get_model_version_by_alias(name, alias)
        else:
            name, version = rest.split("/", 1)
            mv = client.get_model_version(name, version)
        # Where the version's files are: MLflow resolves a models:/ URI through the process-wide
        # registry URI whatever it is passed, so the files are fetched by this address instead.
        download = client.get_model_version_download_uri(mv.name, mv.version)
        return {"name": mv.name, "version": str(mv.version), "run_id": mv.run_id, "download_uri": download}
    if uri.startswith("runs:/"):
        return {"name": None, "version": None, "run_id": uri[len("runs:/") :].split("/")[0]}
    return {}


def resolve(uri: str | None) -> tuple[Path, dict[str, Any]]:
    """Local folder holding the model, and what is known of its identity."""
    if uri is None:
        mv = newest_version()
        uri = f"models:/{mv.name}/{mv.version}"
    local = Path(uri).expanduser()
    if "://" not in uri and ":/" not in uri:
        if not local.exists():
            raise FileNotFoundError(f"{uri}: model folder not found")
        return local, {}
    identity = _identity_for(uri)
    import mlflow

    source = identity.pop("download_uri", None) or uri
    path = mlflow.artifacts.download_artifacts(artifact_uri=source, tracking_uri=tracking_uri(),
                                               registry_uri=registry_uri())
    return Path(path), identity
