"""Digital Post: the decision letter as a MeMo-style XML message (message header with
sender, recipient CPR and title; the letter as the main document), written to a drop
folder as <root>/<message uuid>.xml. The message uuid is derived from the message id,
so a redelivery overwrites nothing and writes nothing new."""
from __future__ import annotations

import base64
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

from adapters.files import atomic_write, drop_root
from hub.dispatch import messages as m
from hub.dispatch.ports import Delivery, DeliveryFailed, Receipt

MEMO_NS = "https://DigitalPost.dk/MeMo-1"
_NAMESPACE_UUID = uuid.UUID("6f0f3d1c-55a4-4c1e-9d59-2f0f6f3a8b10")


def memo_xml(message_uuid: str, letter: m.Letter, created: str) -> bytes:
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
    sender = el(header, "Sender")
    key = letter.sender.key
    el(sender, "senderID", key.partition(":")[2])
    el(sender, "idType", "MUNICIPALITY" if key.startswith("municipality:") else "AUTHORITY")
    el(sender, "label", letter.sender.name)
    recipient = el(header, "Recipient")
    el(recipient, "recipientID", letter.recipient_cpr)
    el(recipient, "idType", "CPR")
    ref = el(header, "ContentResponsible")
    el(ref, "label", letter.sender.name)
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
        message_uuid = str(uuid.uuid5(_NAMESPACE_UUID, d.message_id))
        path = self.root / f"{message_uuid}.xml"
        if path.exists():  # delivered before (a crash came between): the first sending time holds
            sent = ET.parse(path).getroot().findtext(f"{{{MEMO_NS}}}MessageBody/{{{MEMO_NS}}}createdDateTime")
        else:
            sent = d.now.isoformat()
            atomic_write(path, memo_xml(message_uuid, letter, sent))
        return Receipt(reference=message_uuid, data=dict(sent_at=sent))
