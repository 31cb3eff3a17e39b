"""BagIt packages (RFC 8493, sha256 manifests) placed atomically, shared by the archive
and the appeals authority's file drop.

A bag is built in a temporary directory, validated, then renamed into place, so it is
either complete and valid or absent. Placing the same bag twice gives one bag: an
existing valid bag is the answer; an invalid one (damaged on disk) is set aside and
written again."""
from __future__ import annotations

import json
import shutil
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import bagit

from adapters.files import fsync_dir

_lock = threading.Lock()


def dump(value: Any) -> str:
    """JSON one value to a line, keys sorted. (Not indented: with an indent the standard
    library encodes in Python, not C, and an archived case with a year of register data
    took 2 ms of the dispatcher's CPU.)"""
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def place_bag(root: Path, final: Path, files: dict[str, str], info: dict[str, str]) -> None:
    with _lock:
        if final.exists():
            try:
                bagit.Bag(str(final)).validate()
                return
            except bagit.BagError:
                final.rename(final.with_name(f"{final.name}.invalid-{int(time.time())}"))
        tmp = root / ".incoming" / uuid.uuid4().hex
        tmp.mkdir(parents=True)
        try:
            for name, text in files.items():
                (tmp / name).write_text(text, encoding="utf-8")
            bag = bagit.make_bag(str(tmp), info, checksums=["sha256"])
            # The manifests were just made from these files: the quick check (every file
            # there, sizes and counts as bag-info says) is what can still go wrong.
            bag.validate(fast=True)
            final.parent.mkdir(parents=True, exist_ok=True)
            tmp.rename(final)
            fsync_dir(final.parent)
        except Exception:
            shutil.rmtree(tmp, ignore_errors=True)
            raise


def letter_data(letter) -> dict[str, Any]:
    """A letter (hub.domain.documents.Letter) without its text, as kept beside it."""
    return dict(title=letter.title, sender=dict(key=letter.sender.key, name=letter.sender.name),
                recipient_cpr=letter.recipient_cpr, case_id=letter.case_id, document_id=letter.document_id,
                **letter.details)


def case_file_payload(case_file: dict) -> dict[str, str]:
    """A case file as the files of a bag."""
    return {f"{part}.json": dump(case_file.get(part, default))
            for part, default in (("case", {}), ("information", []), ("status_history", []), ("decisions", []),
                                  ("hearings", []), ("complaints", []))}
