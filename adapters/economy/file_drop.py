"""Economy system, file drop: ledger postings as JSON Lines, one file per municipality
and day (the day the posting was caused, so a redelivery lands in the same file):
<root>/<municipality>/<YYYY-MM-DD>.jsonl. The lines are adapters.economy.postings'.

Each message is appended as one write of all its lines (at least one) and
fsynced. Idempotent on the message id, also across processes: the file is locked
(flock) while a message is checked and appended, and the ids already in it are read
from disk. A torn write (a crash mid-append) is repaired before the next append:
incomplete messages are cut off, so they are written again whole."""
from __future__ import annotations

import fcntl
import json
import os
import threading
from pathlib import Path

from adapters.economy.postings import posting_lines
from adapters.files import drop_root
from hub.ports import Delivery, Receipt


class _FileState:
    def __init__(self) -> None:
        self.read_upto = 0
        self.ids: set[str] = set()


class EconomyFileDrop:
    def __init__(self, root: str | Path):
        self.root = drop_root(root)
        self._lock = threading.Lock()  # guards the two dicts; each file has a lock of its own
        self._files: dict[Path, _FileState] = {}
        self._file_locks: dict[Path, threading.Lock] = {}

    def path_for(self, d: Delivery) -> Path:
        return self.root / d.message.municipality_code / f"{d.created_at.date().isoformat()}.jsonl"

    def deliver(self, d: Delivery) -> Receipt:
        lines = posting_lines(d, "the economy file drop")
        path = self.path_for(d)
        path.parent.mkdir(parents=True, exist_ok=True)
        ref = f"{path.relative_to(self.root)}"
        with self._lock:
            file_lock = self._file_locks.setdefault(path, threading.Lock())
            state = self._files.setdefault(path, _FileState())
        with file_lock, open(path, "a+b") as f:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX)
            try:
                self._catch_up(f, state)
                if d.message_id in state.ids:
                    return Receipt(reference=ref)
                data = b"".join(json.dumps(line, ensure_ascii=False, sort_keys=True).encode() + b"\n"
                                for line in lines)
                os.write(f.fileno(), data)  # O_APPEND: one write at the end of the file
                os.fsync(f.fileno())
                state.ids.add(d.message_id)
                state.read_upto += len(data)
            finally:
                fcntl.flock(f.fileno(), fcntl.LOCK_UN)
        return Receipt(reference=ref)

    @staticmethod
    def _catch_up(f, state: _FileState) -> None:
        """Read what other writers appended since we last looked, and cut off an
        incomplete tail (a crash mid-write)."""
        size = os.fstat(f.fileno()).st_size
        if size == state.read_upto:
            return
        if size < state.read_upto:  # replaced or truncated under us: start over
            state.read_upto, state.ids = 0, set()
        f.seek(state.read_upto)
        chunk = f.read(size - state.read_upto)
        good = 0       # bytes of complete messages
        pos = 0
        pending: dict[str, tuple[int, int]] = {}  # message id -> (lines seen, lines expected)
        for raw in chunk.split(b"\n")[:-1]:  # the last piece is empty or a torn line
            pos += len(raw) + 1
            try:
                line = json.loads(raw)
            except ValueError:
                break
            seen, expected = pending.get(line["message_id"], (0, line["lines"]))
            seen += 1
            if seen == expected:
                pending.pop(line["message_id"], None)
                state.ids.add(line["message_id"])
                if not pending:
                    good = pos
            else:
                pending[line["message_id"]] = (seen, expected)
        if state.read_upto + good < size:
            os.ftruncate(f.fileno(), state.read_upto + good)
            os.fsync(f.fileno())
        state.read_upto += good
