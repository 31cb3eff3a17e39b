"""Property tests: the CPR validator, the case state machine and the audit chain's canonical form."""
from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.domain import cpr
from hub.domain.errors import FailedPrecondition
from hub.domain.model import TRANSITIONS, Case, CaseStatus, Channel, Origin

TODAY = dt.date(2026, 11, 23)


def _expected_year(seventh: int, yy: int) -> int:
    # The CPR office's table, written out independently of the implementation.
    table = {0: 1900, 1: 1900, 2: 1900, 3: 1900}
    if seventh in table:
        return table[seventh] + yy
    if seventh in (4, 9):
        return (2000 if yy <= 36 else 1900) + yy
    return (2000 if yy <= 57 else 1800) + yy


@given(st.dates(min_value=dt.date(1858, 1, 1), max_value=TODAY), st.integers(0, 9999))
def test_every_real_past_birth_date_with_a_matching_serial_is_valid(born, serial):
    yy = born.year % 100
    seventh = serial // 1000
    if _expected_year(seventh, yy) != born.year:
        return  # this serial places the date in another century
    number = born.strftime("%d%m%y") + f"{serial:04d}"
    assert cpr.is_valid(number, TODAY)
    assert cpr.is_valid(number[:6] + "-" + number[6:], TODAY)
    assert cpr.birth_date(number) == born


@given(st.text(max_size=12))
def test_the_validator_never_raises_and_rejects_non_digits(text):
    problem = cpr.problem(text, TODAY)
    if cpr.normalise(text) is None:
        assert problem is not None


@given(st.integers(1, 31), st.integers(1, 12), st.integers(0, 99), st.integers(0, 9999))
def test_impossible_or_future_dates_are_rejected(day, month, yy, serial):
    number = f"{day:02d}{month:02d}{yy:02d}{serial:04d}"
    try:
        born = dt.date(_expected_year(serial // 1000, yy), month, day)
    except ValueError:
        assert not cpr.is_valid(number, TODAY)
        return
    assert cpr.is_valid(number, TODAY) == (born <= TODAY)


@given(st.text(alphabet="0123456789- abc", max_size=40))
def test_redaction_leaves_no_cpr_shaped_run(text):
    assert cpr.CPR_PATTERN.search(cpr.redact(text)) is None


def _case() -> Case:
    now = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    return Case("c", "101", "0101701234", "BOLIGSTOETTE", Channel.LETTER, Origin.BACK_OFFICE, CaseStatus.CREATED,
                now, now, now, {}, "", "municipality:101", "x", now)


@settings(max_examples=300)
@given(st.lists(st.sampled_from(list(CaseStatus)), max_size=12))
def test_state_machine_only_takes_legal_steps_and_terminal_states_stay(targets):
    case = _case()
    now = dt.datetime(2026, 1, 2, tzinfo=dt.timezone.utc)
    history = [case.status]
    for target in targets:
        before = case.status
        if target in TRANSITIONS[before]:
            change = case.move(target, action="step", at=now, by="t")
            assert (change.from_status, change.to_status) == (before, target)
            history.append(target)
        else:
            with pytest.raises(FailedPrecondition) as e:
                case.move(target, action="step", at=now, by="t")
            assert before.value in str(e.value)
            assert case.status is before
    # Once withdrawn, a case never moves again; a decided case only takes a new draft, or
    # goes back to informing (remitted by the appeals authority).
    for i, s in enumerate(history):
        if s is CaseStatus.WITHDRAWN:
            assert history[i:] == [s]
        if s is CaseStatus.DECIDED and i + 1 < len(history):
            assert history[i + 1] in (CaseStatus.DRAFT_PENDING_APPROVAL, CaseStatus.INFORMING)
    # Every case is decided only through a draft.
    for a, b in zip(history, history[1:]):
        if b is CaseStatus.DECIDED:
            assert a is CaseStatus.DRAFT_PENDING_APPROVAL


_AUDIT_TEXT = st.one_of(st.none(), st.text(), st.text(alphabet="\"\\\n\t\x00\x7f\u2028æøå€\U0001f600", max_size=8))


@given(seq=st.one_of(st.integers(min_value=0, max_value=2**63), st.booleans()),
       at=st.datetimes(timezones=st.timezones()), texts=st.lists(_AUDIT_TEXT, min_size=8, max_size=8),
       extra=st.dictionaries(st.text(max_size=5), st.integers()))
@settings(max_examples=300, deadline=None)
def test_the_audit_chain_hashes_exactly_what_it_always_hashed(seq, at, texts, extra):
    """The stored hashes rest on the canonical JSON of an entry: the hand-built body
    must be byte for byte what json.dumps wrote, whatever the text holds."""
    import json

    from hub.domain import audit
    entry = dict(zip(("client_id", "role", "rpc", "case_id", "cpr", "outcome", "request_id", "purpose"), texts),
                 seq=seq, at=at, **{k: v for k, v in extra.items() if k not in audit.FIELDS})
    expected = json.dumps({k: audit._canonical(entry.get(k)) for k in audit.FIELDS}, sort_keys=True,
                          ensure_ascii=False, separators=(",", ":"))
    assert audit.canonical_body(entry) == expected
