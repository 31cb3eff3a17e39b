"""The municipality's local control unit, file drop: one JSON file per message in the
municipality's folder, <root>/<municipality>/<finding id>.json for a finding and
<finding id>.closed.json when the hub closes it (the document of
adapters.control_unit.findings, UTF-8, indented).

A file is written whole or not at all (adapters.files.atomic_write: written aside,
fsynced, renamed into place). Idempotent on the message id: a file already there for
the same message means delivered before (a crash came between), and nothing is
written again. A file there for another message is left alone and the new message
refused for good: two messages for one finding is a fault to look at, not to paper
over."""
from __future__ import annotations

import json
from pathlib import Path

from adapters.control_unit.findings import document, file_name
from adapters.files import atomic_write, drop_root
from hub.ports import Delivery, DeliveryFailed, Receipt

ADAPTER = "the control unit's file drop"


class ControlUnitFileDrop:
    def __init__(self, root: str | Path):
        self.root = drop_root(root)

    def path_for(self, d: Delivery) -> Path:
        try:
            name = file_name(d)
        except ValueError as exc:
            raise DeliveryFailed(f"{ADAPTER}: {exc}", permanent=True) from None
        return self.root / d.message.municipality_code / name

    def deliver(self, d: Delivery) -> Receipt:
        doc = document(d, ADAPTER)  # first: a kind it cannot render is refused before anything else
        path = self.path_for(d)
        ref = str(path.relative_to(self.root))
        if path.exists():
            try:
                there = json.loads(path.read_bytes()).get("message_id")
            except (ValueError, AttributeError):
                there = None
            if there == d.message_id:
                return Receipt(reference=ref)
            raise DeliveryFailed(f"{ADAPTER}: {ref} is there already for another message "
                                 f"({there or 'unreadable'}); it is not overwritten", permanent=True)
        data = json.dumps(doc, ensure_ascii=False, indent=2).encode("utf-8") + b"\n"
        atomic_write(path, data)
        return Receipt(reference=ref)
