"""The outbox: calls the tracking server has not taken yet, in order, mirrored to an
append-only journal (`<folder>/journal.jsonl`, copied files beside it) that survives the
process and is sent later with REPLAY_COMMAND."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

REPLAY_COMMAND = "python -m train.tracking replay"


class Outbox:
    """Calls the server has not taken yet, in order, mirrored to `<folder>/journal.jsonl`.

    Journal lines: {"header": {...}} once; one line per queued call ({"seq": n, "op": ...},
    its files copied under files/); {"done": n, "status": "delivered"|"rejected"} when it is
    settled. Pending = queued and not done; a truncated last line (process killed) is skipped.
    """

    def __init__(self, folder: Path, header: dict | None = None):
        self.folder = Path(folder)
        self.journal = self.folder / "journal.jsonl"
        self.header = header or {}
        self.pending: list[dict] = []
        self.ids: dict[str, str] = {}  # pending child-run id -> created run id
        self.seq = 0

    @classmethod
    def open(cls, folder: Path) -> Outbox:
        box = cls(folder)
        records: dict[int, dict] = {}
        done: set[int] = set()
        if box.journal.is_file():
            for line in box.journal.read_text().splitlines():
                try:
                    entry = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if "header" in entry:
                    box.header = entry["header"]
                elif "seq" in entry:
                    records[entry["seq"]] = entry
                    box.seq = max(box.seq, entry["seq"])
                elif "done" in entry:
                    done.add(entry["done"])
                    if entry.get("created_run_id") and entry["done"] in records:
                        box.ids[records[entry["done"]]["run_id"]] = entry["created_run_id"]
        box.pending = [records[s] for s in sorted(records) if s not in done]
        return box

    def _write(self, entry: dict) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        lead = ""
        if not self.journal.exists():
            lead = json.dumps({"header": self.header}, default=str) + "\n"
        elif self.journal.stat().st_size:
            with self.journal.open("rb") as f:
                f.seek(-1, os.SEEK_END)
                lead = "" if f.read(1) == b"\n" else "\n"  # after a line cut off by a kill
        with self.journal.open("a") as f:
            f.write(lead + json.dumps(entry, default=str) + "\n")
            f.flush()
            os.fsync(f.fileno())

    def add(self, record: dict) -> None:
        """Queue `record`: copy the files it names (they may be temporary) and journal it."""
        self.seq += 1
        record["seq"] = self.seq
        files = self.folder / "files" / f"{self.seq:05d}"
        if record["op"] == "artifact":
            src = Path(record["path"])
            files.mkdir(parents=True, exist_ok=True)
            dst = files / src.name
            shutil.copytree(src, dst) if src.is_dir() else shutil.copy2(src, dst)
            record["path"] = str(dst)
        elif record["op"] == "model":
            files.mkdir(parents=True, exist_ok=True)
            shutil.copytree(record["package_dir"], files / "package", dirs_exist_ok=True)
            record["package_dir"] = str(files / "package")
            if record.get("_example") is not None:
                record["_example"].to_json(files / "example.json", orient="split")
                record["example"] = str(files / "example.json")
        self._write({k: v for k, v in record.items() if not k.startswith("_")})
        self.pending.append(record)

    def settle(self, record: dict, status: str = "delivered", **extra) -> None:
        self.pending.remove(record)
        if "seq" in record:
            self._write({"done": record["seq"], "status": status, **extra})
