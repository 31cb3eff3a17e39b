"""Shared archive: each decided case as a BagIt package (RFC 8493, sha256 manifests),
written with the `bagit` library under <root>/<municipality>/<decision id>/.

The bag is built in a temporary directory, validated, then renamed into place, so a
bag is either complete and valid or absent. The same message twice gives one bag: an
existing valid bag is the answer; an invalid one (damaged on disk) is set aside and
written again."""
from __future__ import annotations

import json
import shutil
import threading
import time
import uuid
from pathlib import Path

import bagit

from adapters.files import fsync_dir
from hub.dispatch.ports import Delivery, DeliveryFailed, Receipt

_lock = threading.Lock()


class BagItArchive:
    def __init__(self, root: str | Path, *, organization: str = "sagshub"):
        self.root = Path(root)
        self.organization = organization

    def deliver(self, d: Delivery) -> Receipt:
        p = d.payload
        try:
            municipality, decision_id, case_file = p["municipality_code"], p["decision_id"], p["case_file"]
        except KeyError as exc:
            raise DeliveryFailed(f"archive message without {exc.args[0]}", permanent=True) from exc
        final = self.root / municipality / decision_id
        reference = f"{municipality}/{decision_id}"
        with _lock:
            if final.exists():
                try:
                    bagit.Bag(str(final)).validate()
                    return Receipt(reference=reference)
                except bagit.BagError:
                    final.rename(final.with_name(f"{final.name}.invalid-{int(time.time())}"))
            tmp = self.root / ".incoming" / uuid.uuid4().hex
            tmp.mkdir(parents=True)
            try:
                self._write_payload(tmp, case_file, p.get("letter") or {})
                bag = bagit.make_bag(str(tmp), self._bag_info(d), checksums=["sha256"])
                bag.validate()
                final.parent.mkdir(parents=True, exist_ok=True)
                tmp.rename(final)
                fsync_dir(final.parent)
            except Exception:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
        return Receipt(reference=reference)

    @staticmethod
    def _write_payload(directory: Path, case_file: dict, letter: dict) -> None:
        def dump(name: str, value) -> None:
            (directory / name).write_text(json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True),
                                          encoding="utf-8")
        dump("case.json", case_file.get("case", {}))
        dump("information.json", case_file.get("information", []))
        dump("status_history.json", case_file.get("status_history", []))
        dump("decisions.json", case_file.get("decisions", []))
        dump("letter.json", {k: v for k, v in letter.items() if k != "text"})
        (directory / "letter.txt").write_text(letter.get("text", ""), encoding="utf-8")

    def _bag_info(self, d: Delivery) -> dict[str, str]:
        p = d.payload
        return {
            "Source-Organization": self.organization,
            "External-Identifier": d.message_id,
            "External-Description": f"Decided case {p.get('case_id', '')}, decision {p['decision_id']}",
            "Bagging-Date": d.created_at.date().isoformat(),
            "Municipality-Code": p["municipality_code"],
            "Benefit-Code": p.get("benefit_code", ""),
            "KLE-Number": p.get("kle_number", ""),
            "Decision-Date": p.get("decided_on", ""),
            "Retention-Years": str(p.get("retention_years", "")),
            "Archive-Action-Date": p.get("archive_action_date", ""),
        }
