"""Delivering calls through an Outbox: now when the server takes them, queued while it is
down (training never waits long), retried until a deadline at the end of a run."""

from __future__ import annotations

import time
from typing import Any

from mlflow import MlflowClient

from train.tracking.delivery import deliver
from train.tracking.outbox import REPLAY_COMMAND, Outbox
from train.tracking.server import (
    is_http,
    looks_transient,
    probe,
    quiet_urllib3,
    short_reason,
    warn,
)

RETRY_INTERVAL_S = 5.0  # while the server is down: how often a logging call looks again
REJECT_AFTER = 3  # a queued call the (answering) server fails this often is set aside


class Down(Exception):
    def __init__(self, reason: str, server_up: bool):
        super().__init__(reason)
        self.reason, self.server_up = reason, server_up


class Courier:
    """Delivers calls to one tracking store through an Outbox, retrying while it is down."""

    def __init__(self, uri: str, outbox: Outbox, delivery_timeout_s: float):
        self.uri = uri
        self.client = MlflowClient(tracking_uri=uri)
        self.outbox = outbox
        self.delivery_timeout_s = float(delivery_timeout_s)
        self.next_try = 0.0
        self.down_since: float | None = None
        self.deadline: float | None = None

    def attempt(self, record: dict) -> Any:
        """Deliver `record`; Down when the server cannot take it now (other errors raise)."""
        try:
            with quiet_urllib3():
                return deliver(record, self.client, self.outbox.ids)
        except Exception as exc:
            if not is_http(self.uri):
                raise
            reason = probe(self.uri)
            if reason or looks_transient(exc):
                raise Down(reason or short_reason(exc), server_up=reason is None) from exc
            raise

    def delivered(self, record: dict, result: Any) -> None:
        extra = {}
        if record["op"] == "create_run":
            self.outbox.ids[record["run_id"]] = result
            extra["created_run_id"] = result
        if record in self.outbox.pending:
            self.outbox.settle(record, **extra)

    def note_down(self, reason: str) -> None:
        self.next_try = time.time() + RETRY_INTERVAL_S
        if self.down_since is None:
            self.down_since = time.time()
            warn(f"tracking server {self.uri} unreachable ({reason}); training goes on, "
                 f"logging is queued (journal: {self.outbox.journal}) and sent when it is back")

    def flush(self, force: bool = False) -> None:
        """Send queued calls in order; stop at the first the server cannot take. Without
        `force`, does nothing for RETRY_INTERVAL_S after a failure (training must not wait)."""
        if not self.outbox.pending or (not force and time.time() < self.next_try):
            return
        if is_http(self.uri) and (reason := probe(self.uri)):
            self.note_down(reason)
            return
        sent = 0
        while self.outbox.pending:
            record = self.outbox.pending[0]
            try:
                result = self.attempt(record)
            except Down as down:
                record["_failures"] = record.get("_failures", 0) + 1
                if not down.server_up or record["_failures"] < REJECT_AFTER:
                    self.note_down(down.reason)
                    return
                self._reject(record, down.reason)
                continue
            except Exception as exc:
                self._reject(record, short_reason(exc))
                continue
            self.delivered(record, result)
            sent += 1
        if self.down_since is not None:
            print(f"tracking server {self.uri} is back: sent {sent} queued call(s)", flush=True)
            self.down_since = None

    def _reject(self, record: dict, reason: str) -> None:
        warn(f"tracking server {self.uri} refused a queued {record['op']} call ({reason}); "
             f"it stays in {self.outbox.journal} (seq {record.get('seq')}) but is not retried")
        self.outbox.settle(record, status="rejected", error=reason)

    def drain(self) -> bool:
        """Retry the queue until it is empty or the delivery deadline passes (set on first use,
        `delivery_timeout_s` from then). True when everything was delivered."""
        if self.deadline is None:
            self.deadline = time.time() + self.delivery_timeout_s
        announced = False
        while True:
            self.flush(force=True)
            left = self.deadline - time.time()
            if not self.outbox.pending or left <= 0:
                return not self.outbox.pending
            if not announced:
                print(f"waiting up to {left:.0f} s for tracking server {self.uri} to take "
                      f"{len(self.outbox.pending)} queued call(s)", flush=True)
                announced = True
            time.sleep(min(RETRY_INTERVAL_S, left))

    def deliver_final(self, record: dict) -> tuple[bool, Any]:
        """Deliver `record` after the queue, retrying until the deadline; else queue it."""
        announced = False
        while True:
            if self.drain():
                try:
                    return True, self.attempt(record)
                except Down as down:
                    self.note_down(down.reason)
            left = self.deadline - time.time()
            if left <= 0:
                break
            if not announced:
                print(f"waiting up to {left:.0f} s for tracking server {self.uri} to take the "
                      f"{record['op']}", flush=True)
                announced = True
            time.sleep(min(RETRY_INTERVAL_S, left))
        self.outbox.add(record)
        return False, None

    def report_leftovers(self) -> None:
        if not self.outbox.pending:
            return
        ops = sorted({r["op"] for r in self.outbox.pending})
        warn(
            f"tracking server {self.uri} did not take {len(self.outbox.pending)} call(s) "
            f"({', '.join(ops)}) within {self.delivery_timeout_s:.0f} s. Nothing is lost: they "
            f"are in {self.outbox.journal} (files under {self.outbox.folder / 'files'}). "
            f"When the server is back, send them with:\n"
            f"    {REPLAY_COMMAND} {self.outbox.folder}"
        )
