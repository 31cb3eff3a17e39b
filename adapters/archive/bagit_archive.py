"""Shared archive: BagIt packages (adapters.bags) under <root>/<municipality>/:

- each decided case, per decision: <decision id>/ (case file and decision letter);
- each later step on a case (hearing letters, complaint steps):
  <case id>/<document id>/ (the document, and its text when it has one)."""
from __future__ import annotations

from pathlib import Path

from adapters.bags import case_file_payload, dump, letter_data, place_bag
from adapters.files import drop_root
from hub.ports import messages as m
from hub.ports import Delivery, Receipt


class BagItArchive:
    def __init__(self, root: str | Path, *, organization: str = "sagshub"):
        self.root = drop_root(root)
        self.organization = organization

    def deliver(self, d: Delivery) -> Receipt:
        if isinstance(d.message, m.ArchiveDocument):
            return self._document(d, d.message)
        if not isinstance(d.message, m.ArchiveCase):
            raise m.cannot_render("the archive", d.message)
        p = d.message
        files = case_file_payload(p.case_file)
        letter = p.letter
        files["letter.json"] = dump(letter_data(letter) if letter else {})
        files["letter.txt"] = letter.text if letter else ""
        place_bag(self.root, self.root / p.municipality_code / p.decision_id, files, self._bag_info(
            d, p, f"Decided case {p.case_id}, decision {p.decision_id}",
            {"Decision-Date": p.decided_on.isoformat(), "Retention-Years": str(p.retention_years),
             "Archive-Action-Date": p.archive_action_date.isoformat(), "KLE-Number": p.kle_number}))
        return Receipt(reference=f"{p.municipality_code}/{p.decision_id}")

    def _document(self, d: Delivery, p: m.ArchiveDocument) -> Receipt:
        files = {"document.json": dump({k: v for k, v in p.document.items() if k != "text"})}
        if "text" in p.document:
            files["document.txt"] = p.document["text"]
        place_bag(self.root, self.root / p.municipality_code / p.case_id / p.document_id, files, self._bag_info(
            d, p, f"{p.title or 'Document'} on case {p.case_id}", {"Document-Kind": p.document_kind}))
        return Receipt(reference=f"{p.municipality_code}/{p.case_id}/{p.document_id}")

    def _bag_info(self, d: Delivery, p: m.ArchiveCase | m.ArchiveDocument, description: str,
                  extra: dict[str, str]) -> dict[str, str]:
        return {
            "Source-Organization": self.organization,
            "External-Identifier": d.message_id,
            "External-Description": description,
            "Bagging-Date": d.created_at.date().isoformat(),
            "Municipality-Code": p.municipality_code,
            "Benefit-Code": p.benefit_code,
            **extra,
        }
