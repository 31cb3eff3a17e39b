"""Shared archive: BagIt packages (adapters.bags) under <root>/<municipality>/:

- each decided case, per decision: <decision id>/ (case file and decision letter);
- each later step on a case (hearing letters, complaint steps):
  <case id>/<document id>/ (the document, and its text when it has one)."""
from __future__ import annotations

from pathlib import Path

from adapters.bags import case_file_payload, dump, place_bag
from adapters.files import drop_root
from hub.dispatch.ports import Delivery, DeliveryFailed, Receipt


class BagItArchive:
    def __init__(self, root: str | Path, *, organization: str = "sagshub"):
        self.root = drop_root(root)
        self.organization = organization

    def deliver(self, d: Delivery) -> Receipt:
        p = d.payload
        if p.get("kind") == "archive_document":
            return self._document(d)
        try:
            municipality, decision_id, case_file = p["municipality_code"], p["decision_id"], p["case_file"]
        except KeyError as exc:
            raise DeliveryFailed(f"archive message without {exc.args[0]}", permanent=True) from exc
        letter = p.get("letter") or {}
        files = case_file_payload(case_file)
        files["letter.json"] = dump({k: v for k, v in letter.items() if k != "text"})
        files["letter.txt"] = letter.get("text", "")
        place_bag(self.root, self.root / municipality / decision_id, files, self._bag_info(
            d, f"Decided case {p.get('case_id', '')}, decision {decision_id}",
            {"Decision-Date": p.get("decided_on", ""), "Retention-Years": str(p.get("retention_years", "")),
             "Archive-Action-Date": p.get("archive_action_date", "")}))
        return Receipt(reference=f"{municipality}/{decision_id}")

    def _document(self, d: Delivery) -> Receipt:
        p = d.payload
        try:
            municipality, case_id, document_id = p["municipality_code"], p["case_id"], p["document_id"]
            document = p["document"]
        except KeyError as exc:
            raise DeliveryFailed(f"archive document without {exc.args[0]}", permanent=True) from exc
        files = {"document.json": dump({k: v for k, v in document.items() if k != "text"})}
        if "text" in document:
            files["document.txt"] = document["text"]
        place_bag(self.root, self.root / municipality / case_id / document_id, files, self._bag_info(
            d, f"{p.get('title', 'Document')} on case {case_id}", {"Document-Kind": p.get("document_kind", "")}))
        return Receipt(reference=f"{municipality}/{case_id}/{document_id}")

    def _bag_info(self, d: Delivery, description: str, extra: dict[str, str]) -> dict[str, str]:
        p = d.payload
        return {
            "Source-Organization": self.organization,
            "External-Identifier": d.message_id,
            "External-Description": description,
            "Bagging-Date": d.created_at.date().isoformat(),
            "Municipality-Code": p["municipality_code"],
            "Benefit-Code": p.get("benefit_code", ""),
            "KLE-Number": p.get("kle_number", ""),
            **extra,
        }
