"""Is the tracking server there: GET /health, short reasons, and telling an outage (retry
later) from a call the server refused."""

from __future__ import annotations

import contextlib
import logging
import os
import sys

from mlflow.exceptions import MlflowException

PROBE_TIMEOUT_S = 3.0  # GET /health
# MLflow's own defaults (7 retries, backoff factor 2, 120 s timeout) can hold one call for
# minutes; the outbox does the retrying here, so one call gives up after a few seconds.
# setdefault: a value set in the environment wins.
HTTP_RETRY_ENV = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",
}


def warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr, flush=True)


def is_http(uri: str) -> bool:
    return uri.split(":", 1)[0].lower() in ("http", "https")


def short_reason(exc: BaseException) -> str:
    text = str(exc)
    for needle, reason in (
        ("Connection refused", "connection refused"),
        ("Name or service not known", "host name not found"),
        ("nodename nor servname", "host name not found"),
        ("timed out", "timed out"),
        ("Connection aborted", "connection aborted"),
        ("Connection reset", "connection reset"),
        ("Max retries exceeded", "connection failed"),
    ):
        if needle in text:
            return reason
    return f"{type(exc).__name__}: {text[:200]}"


def probe(uri: str, timeout: float = PROBE_TIMEOUT_S) -> str | None:
    """None when the server at `uri` answers GET /health, else why not (short)."""
    import requests

    verify: bool | str = True
    if os.environ.get("MLFLOW_TRACKING_INSECURE_TLS", "").lower() in ("1", "true"):
        verify = False
    elif os.environ.get("MLFLOW_TRACKING_SERVER_CERT_PATH"):
        verify = os.environ["MLFLOW_TRACKING_SERVER_CERT_PATH"]
    try:
        response = requests.get(uri.rstrip("/") + "/health", timeout=timeout, verify=verify)
    except requests.Timeout:
        return f"no answer within {timeout:g} s"
    except requests.RequestException as exc:
        return short_reason(exc)
    if response.status_code >= 500:
        return f"HTTP {response.status_code} from /health"
    return None  # any other answer (200, or 401/404 behind auth or a proxy) means it is up


def short_http_retries() -> None:
    for name, value in HTTP_RETRY_ENV.items():
        os.environ.setdefault(name, value)


@contextlib.contextmanager
def quiet_urllib3():
    """urllib3 warns on each retry; the outbox reports outages itself, once."""
    logger = logging.getLogger("urllib3.connectionpool")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def looks_transient(exc: BaseException) -> bool:
    import requests

    if isinstance(exc, requests.ConnectionError | requests.Timeout | ConnectionError | TimeoutError):
        return True
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        return exc.response.status_code >= 500 or exc.response.status_code == 429
    if isinstance(exc, MlflowException):
        # Connection failures surface as INTERNAL_ERROR ("API request ... failed with exception").
        status = exc.get_http_status_code()
        return status >= 500 or status == 429
    return False
