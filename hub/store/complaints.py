"""Hearings, complaints, what is overdue, and the deadline watcher's alerts."""
from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from hub.domain import complaints as cp
from hub.domain.documents import jsonable
from hub.domain.identity import Scope
from hub.domain.model import OPEN_STATUSES, Channel, DecisionStatus, Outcome
from hub.store import tables as t
from hub.store.db import dialect_insert
from hub.store.repositories import Repository
from hub.store.scoping import scoped

H, C = t.hearings.c, t.complaints.c


# ---- hearings -----------------------------------------------------------------------------

def _hearing(r) -> cp.Hearing:
    return cp.Hearing(r.hearing_id, r.case_id, r.decision_id, cp.HearingStatus(r.status), tuple(r.fact_item_ids),
                      Outcome(r.intended_outcome), r.note, r.started_by, r.started_at, r.deadline,
                      r.response_item_id, r.answered_at, r.expired_at)


# ---- complaints ---------------------------------------------------------------------------

def _ts(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None


def _complaint(r) -> cp.Complaint:
    late = r.late_decision
    st = r.statement
    rec = r.reconsideration
    ap = r.appeal
    return cp.Complaint(
        r.complaint_id, r.case_id, r.decision_id, cp.ComplaintStatus(r.status), Channel(r.channel), r.received_at,
        r.grounds, r.external_reference, r.filed_by, r.filed_at, bool(r.late), r.reconsider_by,
        cp.LateRuling(cp.LateDecision(late["decision"]), late["reason"], late["by_client"], _ts(late["at"]))
        if late else None,
        cp.Statement(st["text"], st["by_client"], _ts(st["at"])) if st else None,
        cp.Reconsideration(cp.ReconsiderationOutcome(rec["outcome"]), rec["note"], rec["by_client"], _ts(rec["at"]),
                           rec.get("new_decision_id", ""), bool(rec.get("overdue"))) if rec else None,
        r.forwarded_at, r.forwarded_reference,
        cp.AppealDecision(cp.AppealOutcome(ap["outcome"]), ap["appeal_reference"],
                          dt.date.fromisoformat(ap["decided_on"]) if ap.get("decided_on") else None, ap["note"],
                          ap["recorded_by"], _ts(ap["recorded_at"]), ap.get("new_decision_id", "")) if ap else None)


def _json(value: Any):
    """SQL NULL for None (the JSON type would store a JSON null)."""
    return sa.null() if value is None else jsonable(value)


def _complaint_values(c: cp.Complaint) -> dict[str, Any]:
    return dict(status=c.status.value, late_decision=_json(c.late_ruling), statement=_json(c.statement),
                reconsideration=_json(c.reconsideration), forwarded_at=c.forwarded_at,
                forwarded_reference=c.forwarded_reference, appeal=_json(c.appeal))


# ---- what is overdue ----------------------------------------------------------------------

def _overdue_selects(now: dt.datetime):
    cs, d = t.cases.c, t.decisions.c
    decided = sa.exists().where(d.case_id == cs.case_id, d.status == DecisionStatus.APPROVED.value)
    processing = sa.select(
        sa.literal(cp.OverdueKind.PROCESSING_DEADLINE.value).label("kind"), cs.case_id.label("subject_id"),
        cs.case_id.label("case_id"), cs.processing_deadline.label("due_at")
    ).where(cs.status.in_([s.value for s in OPEN_STATUSES]), cs.processing_deadline <= now, ~decided)
    pending = sa.exists().where(d.decision_id == H.decision_id, d.status == DecisionStatus.PENDING_APPROVAL.value)
    hearing = sa.select(
        sa.literal(cp.OverdueKind.HEARING_DEADLINE.value).label("kind"), H.hearing_id.label("subject_id"),
        H.case_id.label("case_id"), H.deadline.label("due_at")
    ).where(H.status != cp.HearingStatus.ANSWERED.value, H.deadline <= now, pending)
    reconsideration = sa.select(
        sa.literal(cp.OverdueKind.RECONSIDERATION.value).label("kind"), C.complaint_id.label("subject_id"),
        C.case_id.label("case_id"), C.reconsider_by.label("due_at")
    ).where(C.status == cp.ComplaintStatus.RECEIVED.value, C.reconsider_by <= now)
    return dict(processing=processing, hearing=hearing, reconsideration=reconsideration)


_KIND_QUERY = {cp.OverdueKind.PROCESSING_DEADLINE: "processing", cp.OverdueKind.HEARING_DEADLINE: "hearing",
               cp.OverdueKind.RECONSIDERATION: "reconsideration"}


# ---- the watcher's alerts -----------------------------------------------------------------


class Complaints(Repository):
    """Complaints on decisions."""

    def add(self, c: cp.Complaint) -> None:
        conn = self._c
        conn.execute(t.complaints.insert().values(
            complaint_id=c.complaint_id, case_id=c.case_id, decision_id=c.decision_id, channel=c.channel.value,
            received_at=c.received_at, grounds=c.grounds, external_reference=c.external_reference, filed_by=c.filed_by,
            filed_at=c.filed_at, late=c.late, reconsider_by=c.reconsider_by, **_complaint_values(c)))

    def save(self, c: cp.Complaint) -> None:
        conn = self._c
        conn.execute(sa.update(t.complaints).where(C.complaint_id == c.complaint_id).values(**_complaint_values(c)))

    def get(self, complaint_id: str, *, lock: bool = False) -> cp.Complaint | None:
        conn = self._c
        q = sa.select(t.complaints).where(C.complaint_id == complaint_id)
        if lock and conn.dialect.name == "postgresql":
            q = q.with_for_update()
        r = conn.execute(q).first()
        return _complaint(r) if r else None

    def for_case(self, case_id: str) -> list[cp.Complaint]:
        conn = self._c
        return [_complaint(r) for r in conn.execute(sa.select(t.complaints).where(C.case_id == case_id)
                                                    .order_by(C.id))]

    def open_on(self, decision_id: str) -> str | None:
        """A complaint on the decision that is still with the authority or the appeals authority."""
        conn = self._c
        return conn.execute(sa.select(C.complaint_id).where(
            C.decision_id == decision_id,
            C.status.in_([cp.ComplaintStatus.RECEIVED.value, cp.ComplaintStatus.FORWARDED.value]))).scalar()

    def set_forwarded_reference(self, complaint_id: str, reference: str) -> bool:
        conn = self._c
        return bool(conn.execute(sa.update(t.complaints).where(C.complaint_id == complaint_id,
                                                               C.forwarded_reference.is_(None))
                                 .values(forwarded_reference=reference)).rowcount)

    def list(self, scope: Scope, *, municipality_code: str, status: str,
             awaiting_reconsideration: bool, after_id: int, limit: int) -> list[tuple[int, cp.Complaint, Any]]:
        conn = self._c
        cs = t.cases.c
        q = (sa.select(C.id.label("complaint_row_id"), t.complaints, cs.municipality_code, cs.benefit_code,
                       cs.authority_key)
             .join(t.cases, cs.case_id == C.case_id).where(C.id > after_id))
        q = scoped(q, scope)
        if municipality_code:
            q = q.where(cs.municipality_code == municipality_code)
        if status:
            q = q.where(C.status == status)
        if awaiting_reconsideration:
            q = q.where(C.status == cp.ComplaintStatus.RECEIVED.value, C.statement.is_not(None),
                        sa.or_(C.late == sa.false(), C.late_decision.is_not(None)))
        rows = conn.execute(q.order_by(C.id).limit(limit)).all()
        return [(r.complaint_row_id, _complaint(r), r) for r in rows]


class Hearings(Repository):
    """Hearings of the citizen before an adverse decision."""

    def add(self, h: cp.Hearing) -> None:
        conn = self._c
        conn.execute(t.hearings.insert(), dict(
            hearing_id=h.hearing_id, case_id=h.case_id, decision_id=h.decision_id, status=h.status.value,
            fact_item_ids=list(h.fact_item_ids), intended_outcome=h.intended_outcome.value, note=h.note,
            started_by=h.started_by, started_at=h.started_at, deadline=h.deadline))

    def for_case(self, case_id: str) -> list[cp.Hearing]:
        conn = self._c
        return [_hearing(r) for r in conn.execute(sa.select(t.hearings).where(H.case_id == case_id).order_by(H.id))]

    def get(self, hearing_id: str) -> cp.Hearing | None:
        conn = self._c
        r = conn.execute(sa.select(t.hearings).where(H.hearing_id == hearing_id)).first()
        return _hearing(r) if r else None

    def save(self, h: cp.Hearing) -> None:
        conn = self._c
        conn.execute(sa.update(t.hearings).where(H.hearing_id == h.hearing_id).values(
            status=h.status.value, response_item_id=h.response_item_id, answered_at=h.answered_at,
            expired_at=h.expired_at))

    def expire(self, now: dt.datetime, limit: int) -> list[cp.Hearing]:
        """Open hearings whose deadline has passed become EXPIRED; each is returned once,
        also with several watchers at once (the update is conditional on OPEN)."""
        conn = self._c
        ids = conn.execute(sa.select(H.hearing_id).where(H.status == cp.HearingStatus.OPEN.value, H.deadline <= now)
                           .order_by(H.deadline).limit(limit)).scalars().all()
        out = []
        for hearing_id in ids:
            changed = conn.execute(sa.update(t.hearings).where(H.hearing_id == hearing_id,
                                                               H.status == cp.HearingStatus.OPEN.value)
                                   .values(status=cp.HearingStatus.EXPIRED.value, expired_at=now)).rowcount
            if changed:
                out.append(self.get(hearing_id))
        return out


class Deadlines(Repository):
    """What is overdue, and the deadline watcher's alerts."""

    def overdue(self, scope: Scope, *, now: dt.datetime, municipality_code: str,
                kind: cp.OverdueKind | None, after: tuple[str, str, str] | None,
                limit: int) -> list[cp.OverdueItem]:
        """Oldest first, by (due time, kind, subject); `after` is the last item of the
        previous page."""
        conn = self._c
        selects = _overdue_selects(now)
        parts = [selects[_KIND_QUERY[kind]]] if kind else list(selects.values())
        u = sa.union_all(*parts).subquery("overdue")
        cs = t.cases.c
        q = (sa.select(u.c.kind, u.c.subject_id, u.c.case_id, u.c.due_at, cs.municipality_code, cs.benefit_code,
                       cs.authority_key)
             .join(t.cases, cs.case_id == u.c.case_id))
        q = scoped(q, scope)
        if municipality_code:
            q = q.where(cs.municipality_code == municipality_code)
        if after is not None:
            due, k, subject = after
            due_at = dt.datetime.fromisoformat(due)
            q = q.where(sa.or_(u.c.due_at > due_at,
                               sa.and_(u.c.due_at == due_at, sa.or_(u.c.kind > k,
                                                                    sa.and_(u.c.kind == k, u.c.subject_id > subject)))))
        rows = conn.execute(q.order_by(u.c.due_at, u.c.kind, u.c.subject_id).limit(limit)).all()
        return [cp.OverdueItem(cp.OverdueKind(r.kind), r.case_id, r.municipality_code, r.benefit_code, r.subject_id,
                               t.UTCDateTime().process_result_value(r.due_at, conn.dialect), r.authority_key)
                for r in rows]

    def raise_alert(self, kind: cp.OverdueKind, subject_id: str, case_id: str, due_at: dt.datetime,
                    now: dt.datetime) -> bool:
        """True the first time only: one alert (and one event) per kind and subject."""
        conn = self._c
        row = conn.execute(dialect_insert(conn, t.deadline_alerts).on_conflict_do_nothing()
                           .returning(t.deadline_alerts.c.subject_id),
                           dict(kind=kind.value, subject_id=subject_id, case_id=case_id, due_at=due_at,
                                raised_at=now)).first()
        return row is not None

    def due_alerts(self, now: dt.datetime, limit: int) -> list[tuple[cp.OverdueKind, str, str, dt.datetime]]:
        """Processing deadlines and reconsiderations overdue now without an alert yet."""
        conn = self._c
        selects = _overdue_selects(now)
        a = t.deadline_alerts.c
        out = []
        for name in ("processing", "reconsideration"):
            s = selects[name].subquery()
            q = (sa.select(s.c.kind, s.c.subject_id, s.c.case_id, s.c.due_at)
                 .where(~sa.exists().where(a.kind == s.c.kind, a.subject_id == s.c.subject_id))
                 .order_by(s.c.due_at).limit(limit))
            for r in conn.execute(q):
                out.append((cp.OverdueKind(r.kind), r.subject_id, r.case_id,
                            t.UTCDateTime().process_result_value(r.due_at, conn.dialect)))
        return out
