"""Digital Post: a letter as a MeMo 1.1 message (https://DigitalPost.dk/MeMo-1), written
to a drop folder as <root>/<message uuid>.xml. The header carries, in MeMo's order, the
message type, a UUIDv4, the title, mandatory and legalNotification (the letters have
legal effect: decisions, hearings, rulings), the sender identified by CVR number
(`senderID` = the authority's 8-digit CVR, `idType` CVR, `label` its name) and the
recipient by CPR; the body the letter as its main document (UTF-8 text, base64).

The sender's CVR number comes from the reference data (hub/data: the municipalities'
and the central authorities' CVR numbers). A letter whose sender has none is refused,
a permanent failure that names the sender: Digital Post identifies the sender by CVR,
and a number is never invented.

The message uuid is derived from the message id, so a redelivery overwrites nothing
and writes nothing new."""
from __future__ import annotations

import base64
import datetime as dt
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

from adapters.files import atomic_write, drop_root
from hub.ports import messages as m
from hub.ports import Delivery, DeliveryFailed, Receipt
from hub.domain.municipalities import sender_cvr

MEMO_NS = "https://DigitalPost.dk/MeMo-1"
_NAMESPACE_UUID = uuid.UUID("6f0f3d1c-55a4-4c1e-9d59-2f0f6f3a8b10")


def memo_uuid(message_id: str) -> str:
    """A UUIDv4 (MeMo's messageUUID pattern) derived from the message id: the same id,
    the same uuid."""
    return str(uuid.UUID(bytes=uuid.uuid5(_NAMESPACE_UUID, message_id).bytes, version=4))


def memo_time(moment: dt.datetime) -> str:
    """MeMo's date-times are UTC with a Z."""
    return moment.astimezone(dt.timezone.utc).replace(tzinfo=None).isoformat() + "Z"


def memo_xml(message_uuid: str, letter: m.Letter, created: str, sender_cvr: str) -> bytes:
    ET.register_namespace("memo", MEMO_NS)

    def el(parent, tag, text=None, **attrs):
        e = ET.SubElement(parent, f"{{{MEMO_NS}}}{tag}", attrs)
        if text is not None:
            e.text = text
        return e

    root = ET.Element(f"{{{MEMO_NS}}}Message", {"memoVersion": "1.1", "memoSchVersion": "1.1.0"})
    header = el(root, "MessageHeader")
    el(header, "messageType", "DIGITALPOST")
    el(header, "messageUUID", message_uuid)
    el(header, "label", letter.title)
    el(header, "mandatory", "true")
    el(header, "legalNotification", "true")
    sender = el(header, "Sender")
    el(sender, "senderID", sender_cvr)
    el(sender, "idType", "CVR")
    el(sender, "label", letter.sender.name)
    recipient = el(header, "Recipient")
    el(recipient, "recipientID", letter.recipient_cpr)
    el(recipient, "idType", "CPR")
    body = el(root, "MessageBody")
    el(body, "createdDateTime", created)
    main = el(body, "MainDocument")
    document_id = letter.document_id
    el(main, "mainDocumentID", document_id)
    el(main, "label", letter.title)
    f = el(main, "File")
    el(f, "encodingFormat", "text/plain")
    el(f, "filename", f"{letter.file_prefix}-{document_id}.txt")
    el(f, "language", "da")
    el(f, "content", base64.b64encode(letter.text.encode("utf-8")).decode("ascii"))
    return ET.tostring(root, xml_declaration=True, encoding="UTF-8")


class MeMoFileDrop:
    def __init__(self, root: str | Path):
        self.root = drop_root(root)

    def deliver(self, d: Delivery) -> Receipt:
        if not isinstance(d.message, m.DigitalPostLetter):
            raise m.cannot_render("Digital Post", d.message)
        letter = d.message.letter
        if not letter.recipient_cpr or not letter.sender.key:
            raise DeliveryFailed("letter without recipient or sender", permanent=True)
        cvr = sender_cvr(letter.sender.key)
        if not cvr:
            raise DeliveryFailed(f"the sender {letter.sender.name or letter.sender.key} ({letter.sender.key}) has no "
                                 "CVR number in the reference data (hub/data), and Digital Post names the sender by "
                                 "CVR: the letter is not sent", permanent=True)
        ref = memo_uuid(d.message_id)
        # A letter written by an older hub, under its version-5 uuid, counts as sent too.
        for name in (ref, str(uuid.uuid5(_NAMESPACE_UUID, d.message_id))):
            path = self.root / f"{name}.xml"
            if path.exists():  # delivered before (a crash came between): the first sending time holds
                sent = ET.parse(path).getroot().findtext(f"{{{MEMO_NS}}}MessageBody/{{{MEMO_NS}}}createdDateTime")
                return Receipt(reference=name, data=dict(sent_at=dt.datetime.fromisoformat(sent).isoformat()))
        atomic_write(self.root / f"{ref}.xml", memo_xml(ref, letter, memo_time(d.now), cvr))
        return Receipt(reference=ref, data=dict(sent_at=d.now.isoformat()))
