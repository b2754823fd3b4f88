"""Replaying journals: send what a run's outbox still holds once the server is back
(`python -m train.tracking replay PATH`)."""

from __future__ import annotations

from pathlib import Path

import mlflow

from infer.registry import tracking_uri
from train.tracking.courier import Courier
from train.tracking.outbox import Outbox
from train.tracking.server import is_http, short_http_retries, warn


def journal_folders(path: str | Path) -> list[Path]:
    """Outbox folders (holding journal.jsonl) at or under `path` (a journal, its folder, or
    the outbox root holding one folder per run)."""
    path = Path(path)
    if path.is_file():
        return [path.parent]
    if (path / "journal.jsonl").is_file():
        return [path]
    return sorted(p.parent for p in path.glob("*/journal.jsonl"))


def replay(path: str | Path, uri: str | None = None, timeout_s: float = 60.0) -> bool:
    """Send what journals at `path` still hold to `uri` (default: the one they were meant
    for). True when nothing is left pending."""
    folders = journal_folders(path)
    if not folders:
        raise FileNotFoundError(f"no journal.jsonl at or under {path}")
    ok = True
    for folder in folders:
        outbox = Outbox.open(folder)
        target = uri or outbox.header.get("tracking_uri") or tracking_uri()
        if not outbox.pending:
            print(f"{folder}: nothing pending")
            continue
        if is_http(target):
            short_http_retries()
        mlflow.set_tracking_uri(target)
        courier = Courier(target, outbox, timeout_s)
        count = len(outbox.pending)
        print(f"{folder}: sending {count} call(s) to {target}", flush=True)
        courier.drain()
        if outbox.pending:
            ok = False
            warn(f"{len(outbox.pending)} call(s) still pending in {outbox.journal}; run the "
                 "replay again when the server answers")
        else:
            print(f"{folder}: delivered (run {outbox.header.get('run_id')})", flush=True)
    return ok
