"""Before a run starts: check the tracking server and fail at once with what to fix, or fall
back to a local store (`offline_fallback`)."""

from __future__ import annotations

from pathlib import Path

import mlflow
from mlflow import MlflowClient

from infer.registry import tracking_uri
from train.tracking.server import PROBE_TIMEOUT_S, is_http, probe, short_http_retries, warn

OFFLINE_DIR = "mlflow-offline"


class TrackingUnavailable(RuntimeError):
    """The tracking server does not answer when a run starts."""


def unreachable_message(uri: str, reason: str) -> str:
    port = uri.rsplit(":", 1)[-1].strip("/") if uri.count(":") > 1 else "5000"
    port = port if port.isdigit() else "5000"
    return (
        f"MLflow tracking server {uri} is unreachable ({reason}); training was not started.\n"
        "Fix one of:\n"
        f"  - start the server (docs/tracking-server.md), e.g.\n"
        f"      mlflow server --host 127.0.0.1 --port {port} "
        "--backend-store-uri sqlite:///mlflow-server.db --artifacts-destination ./mlartifacts\n"
        f"  - point MLFLOW_TRACKING_URI at a running server (now {uri}), or unset it to log to "
        "the local sqlite:///mlflow.db\n"
        "  - set tracking.offline_fallback=true to log to a local store while the server is down"
    )


def refused_host_message(uri: str) -> str:
    host = uri.split("://", 1)[1].split("/", 1)[0]
    return (
        f"MLflow tracking server {uri} refuses requests for host {host!r} (Invalid Host "
        f"header); training was not started. Start the server with --allowed-hosts "
        f"including {host!r} (docs/tracking-server.md)")


def check_reachable(uri: str | None = None, timeout: float = PROBE_TIMEOUT_S) -> None:
    """Raise TrackingUnavailable unless `uri` (default: MLFLOW_TRACKING_URI) answers.
    Local stores (sqlite, file) always pass."""
    uri = uri or tracking_uri()
    if not is_http(uri):
        return
    reason = probe(uri, timeout)
    if reason:
        raise TrackingUnavailable(unreachable_message(uri, reason))


def choose_store(uri: str, offline_fallback: bool,
                 offline_dir: str | Path | None) -> tuple[str, Path | None]:
    """(the URI a run logs to, the offline folder or None). An http(s) server that does not
    answer raises TrackingUnavailable, or with `offline_fallback` gives
    `sqlite:///<offline_dir>/mlflow.db` (default ./mlflow-offline)."""
    offline = None
    if is_http(uri):
        reason = probe(uri)
        if reason and not offline_fallback:
            raise TrackingUnavailable(unreachable_message(uri, reason))
        if reason:
            offline = Path(offline_dir or OFFLINE_DIR).resolve()
            offline.mkdir(parents=True, exist_ok=True)
            local = f"sqlite:///{offline / 'mlflow.db'}"
            warn(f"tracking server {uri} unreachable ({reason}); tracking.offline_fallback is on, "
                 f"so this run logs to the local store {local} (artifacts in "
                 f"{offline / 'artifacts'}). See it with: mlflow ui --backend-store-uri {local}")
            uri = local  # start()'s mlflow.set_tracking_uri also sets MLFLOW_TRACKING_URI
        else:
            short_http_retries()
    return uri, offline


def use_experiment(experiment: str, uri: str, offline: Path | None) -> None:
    """Make `experiment` the active one; in an offline store its artifacts go under
    `<offline>/artifacts`."""
    if offline is not None:
        client = MlflowClient(tracking_uri=uri)
        found = client.get_experiment_by_name(experiment)
        exp_id = found.experiment_id if found else client.create_experiment(
            experiment, artifact_location=(offline / "artifacts").as_uri())
        mlflow.set_experiment(experiment_id=exp_id)
    else:
        mlflow.set_experiment(experiment)
