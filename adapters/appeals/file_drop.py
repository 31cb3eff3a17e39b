"""The appeals authority (Ankestyrelsen), the file route: an upheld complaint is
forwarded as a BagIt package under <root>/<municipality>/<complaint id>/ holding the
complaint, the back office's statement, the authority's reconsideration, the decision
complained of with its letter, and the whole case file. The folder is named by the
complaint, so a redelivery writes nothing new."""
from __future__ import annotations

from pathlib import Path

from adapters.bags import case_file_payload, dump, place_bag
from adapters.files import drop_root
from hub.dispatch.ports import Delivery, DeliveryFailed, Receipt


class AppealsFileDrop:
    def __init__(self, root: str | Path, *, organization: str = "sagshub"):
        self.root = drop_root(root)
        self.organization = organization

    def deliver(self, d: Delivery) -> Receipt:
        p = d.payload
        try:
            municipality, complaint = p["municipality_code"], p["complaint"]
            statement, case_file = p["statement"], p["case_file"]
        except KeyError as exc:
            raise DeliveryFailed(f"appeal without {exc.args[0]}", permanent=True) from exc
        complaint_id = complaint["complaint_id"]
        letter = p.get("letter") or {}
        files = case_file_payload(case_file)
        files.update({
            "complaint.json": dump(complaint),
            "statement.txt": statement.get("text", ""),
            "statement.json": dump(statement),
            "reconsideration.json": dump(p.get("reconsideration") or {}),
            "decision.json": dump(p.get("decision") or {}),
            "letter.txt": letter.get("text", ""),
        })
        info = {
            "Source-Organization": self.organization,
            "External-Identifier": d.message_id,
            "External-Description": f"Complaint {complaint_id} on case {complaint.get('case_id', '')}, "
                                    f"upheld by {p.get('authority_name', '')}",
            "Bagging-Date": d.created_at.date().isoformat(),
            "Municipality-Code": municipality,
            "Benefit-Code": p.get("benefit_code", ""),
            "Complaint-Received": complaint.get("received_at", ""),
        }
        place_bag(self.root, self.root / municipality / complaint_id, files, info)
        return Receipt(reference=f"{municipality}/{complaint_id}")
