"""Whether tracking is on in this process, and the run `start()` has open.

Other modules read these as `state.enabled` / `state.session` at call time, so setting them
here (or monkeypatching this module) reaches every reader.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from train.tracking.session import Session

enabled = True
session: Session | None = None  # set by start() while its run is open


def set_enabled(flag: bool) -> None:
    """False: every tracking function does nothing (e.g. on non-zero ranks of a distributed run)."""
    global enabled
    enabled = bool(flag)


def is_enabled() -> bool:
    return enabled


def null_run(run_id: str | None = None):
    """What start()/child_run() yield when there is no MLflow run: `.info.run_id` only."""
    return SimpleNamespace(info=SimpleNamespace(run_id=run_id))
