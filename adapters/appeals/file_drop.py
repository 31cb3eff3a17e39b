"""The appeals authority (Ankestyrelsen), the file route: an upheld complaint is
forwarded as a BagIt package under <root>/<municipality>/<complaint id>/ holding the
complaint, the back office's statement, the authority's reconsideration, the decision
complained of with its letter, and the whole case file. The folder is named by the
complaint, so a redelivery writes nothing new."""
from __future__ import annotations

from pathlib import Path

from adapters.bags import case_file_payload, dump, place_bag
from adapters.files import drop_root
from hub.ports import messages as m
from hub.ports import Delivery, Receipt


class AppealsFileDrop:
    def __init__(self, root: str | Path, *, organization: str = "sagshub"):
        self.root = drop_root(root)
        self.organization = organization

    def deliver(self, d: Delivery) -> Receipt:
        if not isinstance(d.message, m.Appeal):
            raise m.cannot_render("the appeals authority's file drop", d.message)
        p = d.message
        complaint_id = p.complaint_id
        files = case_file_payload(p.case_file)
        statement = p.statement or {}
        files.update({
            "complaint.json": dump(p.complaint),
            "statement.txt": statement.get("text", ""),
            "statement.json": dump(statement),
            "reconsideration.json": dump(p.reconsideration or {}),
            "decision.json": dump(p.decision),
            "letter.txt": p.letter.text,
        })
        info = {
            "Source-Organization": self.organization,
            "External-Identifier": d.message_id,
            "External-Description": f"Complaint {complaint_id} on case {p.case_id}, upheld by {p.authority_name}",
            "Bagging-Date": d.created_at.date().isoformat(),
            "Municipality-Code": p.municipality_code,
            "Benefit-Code": p.benefit_code,
            "Complaint-Received": p.complaint.get("received_at", ""),
        }
        place_bag(self.root, self.root / p.municipality_code / complaint_id, files, info)
        return Receipt(reference=f"{p.municipality_code}/{complaint_id}")
