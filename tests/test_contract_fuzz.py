"""The contract under fuzzing: every RPC of every hub service, called with requests that
hypothesis builds from the message descriptors (extreme numbers, NaN, unicode and long
texts, unknown enum numbers, out-of-range Timestamps and Dates, deep Structs, page tokens
the hub issued with their cursor edited), by clients of every role and with ids of real
objects now and then. A caller's mistake is never INTERNAL or UNKNOWN; INVALID_ARGUMENT
carries field violations that name the request's fields; the hub stays healthy.

The methods come from hub.api.services.SERVICES, so a new RPC is fuzzed without a change
here. HUB_FUZZ_REQUESTS sets how many requests one run sends (10,000 by default; the
Makefile sends fewer in its second and third pass). The examples are derandomized (the
same run every time); HUB_FUZZ_SEED=<n> explores another part of the space."""
from __future__ import annotations

import base64
import calendar
import datetime as dt
import itertools
import json
import math
import os
import re
import struct
import threading
import uuid
from typing import Any, NamedTuple

import grpc
from google.protobuf import struct_pb2, text_format, timestamp_pb2
from google.protobuf.descriptor import FieldDescriptor as F
from google.type import date_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

from hub.api.services import SERVICE_NAMES, SERVICES
from hub.runtime.router import request_class, response_class
from hub.domain.identity import PERMISSIONS, Role
from hub.v1 import (cases_pb2, common_pb2, complaints_pb2, control_pb2, decisions_pb2, events_pb2, operations_pb2,
                    payments_pb2)
from hub.v1 import billing_pb2
from tests.conftest import CLIENTS, mint_assertion
from tests.dispatch_support import dispatcher, file_adapters
from tests.helpers import create_req, details, draft_req, finding_on, info_req, period, repay, rid
from tests.test_payments import report

FUZZ_REQUESTS = int(os.environ.get("HUB_FUZZ_REQUESTS", "10000"))
FUZZ_SEED = os.environ.get("HUB_FUZZ_SEED")
# HUB_FUZZ_SURVEY=1: go on after a finding and report every kind found at the end (no shrinking).
SURVEY = os.environ.get("HUB_FUZZ_SURVEY") == "1"
BATCH = 8  # requests per example, sent at once (so that they also share the hub's group commits)
STREAM_READ_SECONDS = 0.05  # a streaming answer is read this long (or two items), then cancelled
BAD_CODES = {grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN}

METHODS = [(s.descriptor.full_name, m) for s in SERVICES for m in s.descriptor.methods]
TOKENS = [c["token"] for c in CLIENTS]


def permitted_tokens(method) -> list[str]:
    roles = PERMISSIONS.get(method.name)
    return [c["token"] for c in CLIENTS if roles and Role(c["role"]) in roles] or TOKENS


# ---- values ---------------------------------------------------------------------------------

def _ints(lo: int, hi: int):
    edges = [lo, hi, 0, 1, -1, 2, 50, 499, 500, 501, 2**31 - 1, 2**31, 2**32 - 1, 2**53, 2**62, 2**63 - 1, 2**63,
             2**64 - 1, -2**31, -2**62, -2**63]
    return st.one_of(st.sampled_from(sorted({e for e in edges if lo <= e <= hi})), st.integers(lo, hi),
                     st.integers(max(lo, -1000), min(hi, 1000)))


INT_RANGES = {**dict.fromkeys((F.TYPE_INT32, F.TYPE_SINT32, F.TYPE_SFIXED32), (-2**31, 2**31 - 1)),
              **dict.fromkeys((F.TYPE_INT64, F.TYPE_SINT64, F.TYPE_SFIXED64), (-2**63, 2**63 - 1)),
              **dict.fromkeys((F.TYPE_UINT32, F.TYPE_FIXED32), (0, 2**32 - 1)),
              **dict.fromkeys((F.TYPE_UINT64, F.TYPE_FIXED64), (0, 2**64 - 1))}
FLOATS = st.one_of(st.sampled_from([math.nan, math.inf, -math.inf, -0.0, 0.0, 1e308, -1e308, 5e-324, 2.0**63,
                                    2.0**64, 300000.0, 0.5]), st.floats())
# Long texts are drawn as (character, length), not character by character: a 70,000
# character text costs hypothesis one choice, not 70,000.
LONG_TEXT = st.builds(lambda c, n: c * n, st.sampled_from(["x", "æ", "😀", "\x00", " "]),
                      st.sampled_from([36, 37, 100, 128, 129, 199, 200, 201, 1000, 1001, 19_999, 20_000, 20_001,
                                       70_000]))
TEXT = st.one_of(st.text(max_size=24), st.sampled_from(["", " ", "\x00", "a\x00b", "\u202e", "😀", "Ω≈ç√", "\ufeff",
                                                        "'; DROP TABLE cases; --", "%s%s", "{}", "null", "999", "000",
                                                        "1010", "0000-01", "9999-12", "2026-13", "2026-3", "26-03",
                                                        "-2026-01", "boligstoette", "Not.Dotted", "Case"]),
                 LONG_TEXT, st.from_regex(r"\A\d{6}-?\d{4}\Z"))

# Timestamp and Date: the edges of what the types can hold and a little beyond.
TS_MIN, TS_MAX = -62135596800, 253402300799  # 0001-01-01T00:00:00Z, 9999-12-31T23:59:59Z
NOW_SECONDS = 1772442000  # the fake clock's start, 2026-03-02 09:00 UTC
TIMESTAMPS = st.builds(
    lambda s, n: timestamp_pb2.Timestamp(seconds=s, nanos=n),
    st.one_of(st.sampled_from([TS_MIN, TS_MAX, TS_MIN - 1, TS_MAX + 1, 0, -1, 2**63 - 1, -2**63, 2**62]),
              st.integers(NOW_SECONDS - 400 * 86400, NOW_SECONDS + 400), st.integers(-2**63, 2**63 - 1)),
    st.one_of(st.sampled_from([0, 999_999_999, 1_000_000_000, -1, 2**31 - 1, -2**31]), st.integers(0, 999_999_999)))
DATES = st.builds(
    lambda y, m, d: date_pb2.Date(year=y, month=m, day=d),
    st.one_of(st.sampled_from([0, 1, 1900, 2025, 2026, 2027, 9999, 10000, -1, 2**31 - 1, -2**31]),
              st.integers(2024, 2028)),
    st.one_of(st.integers(0, 13), st.sampled_from([-1, 2**31 - 1])),
    st.one_of(st.integers(0, 32), st.sampled_from([-1, 2**31 - 1])))


def _value(x) -> struct_pb2.Value:
    v = struct_pb2.Value()
    if x is None:
        v.null_value = 0
    elif isinstance(x, bool):
        v.bool_value = x
    elif isinstance(x, float):
        v.number_value = x
    elif isinstance(x, str):
        v.string_value = x
    elif isinstance(x, list):
        v.list_value.values.extend(_value(i) for i in x)
    else:
        v.struct_value.CopyFrom(_struct(x))
    return v


def _struct(d: dict) -> struct_pb2.Struct:
    s = struct_pb2.Struct()
    for k, x in d.items():
        s.fields[k].CopyFrom(_value(x))
    return s


def _deep(depth: int) -> struct_pb2.Value:
    """A list in a list ... `depth` deep."""
    v = inner = struct_pb2.Value()
    for _ in range(depth):
        inner = inner.list_value.values.add()
    inner.number_value = 1.0
    return v


# Deeper than protobuf's parsers go (100 levels) a Value cannot be built as a message
# here either: such requests are written as bytes.
def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        out.append((n & 0x7F) | (0x80 if n > 0x7F else 0))
        n >>= 7
        if not n:
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def deep_bytes(type_name: str, depth: int) -> bytes:
    """A Value (or a Struct or ListValue holding one) of lists in lists, `depth` deep."""
    v = b"\x11" + struct.pack("<d", 1.0)  # number_value
    for _ in range(depth):
        v = _field(6, _field(1, v))  # list_value { values { ... } }
    if type_name == "google.protobuf.Struct":
        return _field(1, _field(1, b"k") + _field(2, v))  # fields { key: "k" value { ... } }
    return _field(1, v) if type_name == "google.protobuf.ListValue" else v


JSON = st.recursive(st.one_of(st.none(), st.booleans(), FLOATS, st.text(max_size=8)),
                    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner,
                                                                                         max_size=3)),
                    max_leaves=8)
VALUES = st.one_of(JSON.map(_value), st.just(struct_pb2.Value()), st.sampled_from([5, 20, 45]).map(_deep),
                   LONG_TEXT.map(lambda s: _value(s)))
STRUCTS = st.one_of(st.dictionaries(st.text(max_size=8), JSON, max_size=4).map(_struct),
                    VALUES.map(lambda v: struct_pb2.Struct(fields={"k": v})))
DEEP_TYPES = ("google.protobuf.Value", "google.protobuf.Struct", "google.protobuf.ListValue")
WELL_KNOWN = {"google.protobuf.Timestamp": TIMESTAMPS, "google.type.Date": DATES, "google.protobuf.Value": VALUES,
              "google.protobuf.Struct": STRUCTS,
              "google.protobuf.ListValue": VALUES.map(lambda v: struct_pb2.ListValue(values=[v]))}


def _last_of(year: int, month: int) -> date_pb2.Date:
    return date_pb2.Date(year=year, month=month, day=calendar.monthrange(year, month)[1])


PLAUSIBLE_INTS = {"page_size": st.integers(0, 5), "amount_oere": st.one_of(st.integers(1, 10_000),
                                                                             st.integers(0, 2_000_000)),
                  "max_orders": st.integers(0, 10), "heartbeat_seconds": st.integers(0, 2),
                  "after_sequence": st.integers(0, 60), "sequence": st.integers(0, 60)}
PLAUSIBLE_MESSAGES = {
    "google.protobuf.Timestamp": st.integers(NOW_SECONDS - 400 * 86400, NOW_SECONDS + 40 * 86400).map(
        lambda s: timestamp_pb2.Timestamp(seconds=s)),
    "google.type.Date": st.dates(dt.date(2025, 1, 1), dt.date(2027, 12, 31)).map(
        lambda d: date_pb2.Date(year=d.year, month=d.month, day=d.day)),
    "google.protobuf.Value": st.one_of(st.floats(0, 1e6), st.text(max_size=10)).map(_value),
    "google.protobuf.Struct": st.dictionaries(st.text(max_size=6), st.text(max_size=6), max_size=2).map(_struct),
    # Whole months, from the first of one to the last of another (two may still overlap).
    "hub.v1.PeriodAmount": st.builds(
        lambda amount, start, months: common_pb2.PeriodAmount(
            amount_oere=amount, period_start=date_pb2.Date(year=start.year, month=start.month, day=1),
            period_end=_last_of(start.year + (start.month + months - 1) // 12, (start.month + months - 1) % 12 + 1)),
        st.integers(0, 2_000_000), st.dates(dt.date(2025, 1, 1), dt.date(2027, 12, 31)), st.integers(0, 14)),
}


# ---- ids of real objects, by field name ------------------------------------------------------

MONTHS = ["2025-10", "2026-01", "2026-02", "2026-03", "2026-04", "2026-12"]
REQUEST_IDS = [f"fuzz-{i}" for i in range(12)]  # reused now and then: retries and reuse with other content


# A new request id each time (hypothesis's own uuids() repeat its simplest ones often: a
# reused request_id with other content is ALREADY_EXISTS, and the call goes no further).
FRESH_ID = st.just(None).map(lambda _: str(uuid.uuid4()))


class Pools:
    """Values of real objects the seeding made, by the field names that carry them."""

    def __init__(self) -> None:
        self.by_field: dict[str, list] = {
            "municipality_code": ["101", "751", "147"],
            "benefit_code": ["BOLIGSTOETTE", "FOLKEPENSION", "BOERNEBIDRAG", "OEKONOMISK_FRIPLADS", "SU"],
            "request_id": REQUEST_IDS,
            "kind": ["income.annual", "rent.monthly"],
            "period": MONTHS, "due_month": MONTHS, "from_month": MONTHS, "to_month": MONTHS,
            "destination": ["economy", "digital_post", "archive", "payment_provider", "appeals", "income_register"],
            "client_id": [c["id"] for c in CLIENTS],
            "provider_id": ["provider-a", "provider-b"],
            "event_types": ["case.created", "decision.approved", "complaint.filed", "no.such_type"],
            # Billing: quarters ended, not ended, not begun, before any price model.
            "quarter": ["2025-Q3", "2025-Q4", "2026-Q1", "2026-Q2", "2024-Q4"],
        }
        self.by_field["municipality_codes"] = self.by_field["municipality_code"]
        self.by_field["benefit_codes"] = self.by_field["code"] = self.by_field["benefit_code"]

        # New values that pass validation, so that calls get past it (made-up CPR numbers,
        # never registered in conftest.USED_CPRS: the hub may log them redacted or not).
        self.fresh: dict[str, st.SearchStrategy] = {
            "request_id": FRESH_ID,
            "name": st.from_regex(r"\A[a-z][a-z0-9._-]{0,12}\Z"),
            "cpr": st.builds(lambda d, n: d.strftime("%d%m%y") + f"{n:04d}",
                             st.dates(dt.date(1900, 1, 1), dt.date(1999, 12, 31)), st.integers(0, 3999)),
            "reason": st.sampled_from(["Fejl.", "Borgeren har klaget."]),
        }

        # Ids of objects the fuzzer's own calls made (a draft to approve, a case to draft
        # on), the newest LIVE_MAX of each kind: drawn by position, so a replay of an
        # example draws the objects its own run made.
        self.live: dict[str, list[str]] = {name: [] for name in LIVE_IDS}

    def add(self, field: str, value: str) -> None:
        if value:
            self.by_field.setdefault(field, []).append(value)

    def ids(self, name: str) -> st.SearchStrategy | None:
        """Ids of real objects for the field `name` (seeded or made since), if it names one."""
        static = self.by_field.get(name)
        if name not in self.live:
            return st.sampled_from(static) if static else None
        return st.integers(0, LIVE_MAX - 1).map(lambda i, name=name, static=tuple(static or ("",)): (
            self.live[name][-1 - i % len(self.live[name])] if self.live[name] and i % 2 else static[i % len(static)]))

    def learn(self, message) -> None:
        """Keep the ids in an answer (its fields and its messages', one level down)."""
        for f, value in message.ListFields():
            if f.name in self.live and isinstance(value, str):
                live = self.live[f.name]
                live.append(value)
                del live[:-LIVE_MAX]
            elif f.message_type is not None and not f.is_repeated and f.message_type.full_name not in WELL_KNOWN:
                for g, inner in value.ListFields():
                    if g.name in self.live and isinstance(inner, str):
                        self.live[g.name].append(inner)
                        del self.live[g.name][:-LIVE_MAX]


LIVE_IDS = ("case_id", "decision_id", "hearing_id", "complaint_id", "claim_id", "end_to_end_id", "batch_id",
            "item_id", "finding_id")
LIVE_MAX = 40


# Field name -> the pool it draws from (one pool can serve several names).
POOL_OF = {"new_decision_id": "decision_id", "decisive_fact_ids": "item_id", "fact_item_ids": "item_id",
           "subscription": "name", "message_id": "message_id"}


# ---- requests -------------------------------------------------------------------------------

class Requests:
    """Request strategies built from the descriptors, with the seeded objects' ids.
    `plausible`: values that pass validation more often than not (real ids, known enum
    values, times of late, short texts), so that calls reach the state machine and the
    store; the fuzzer mixes these with wild ones, and with a plausible request that has
    one field made wild."""

    def __init__(self, pools: Pools, page_tokens: list[str], *, plausible: bool = False):
        self.pools = pools
        self.page_tokens = page_tokens
        self.plausible = plausible
        self._cache: dict[str, st.SearchStrategy] = {}

    def field(self, f, depth: int) -> st.SearchStrategy:
        one = self.single(f, depth)
        if not f.is_repeated:
            return one
        if self.plausible:
            return st.lists(one, max_size=2)
        return st.one_of(st.lists(one, max_size=3), st.lists(one, min_size=30, max_size=40)
                         if f.message_type is None and depth == 0 else st.lists(one, max_size=1))

    def single(self, f, depth: int) -> st.SearchStrategy:
        if f.message_type is not None:
            if self.plausible and f.message_type.full_name in PLAUSIBLE_MESSAGES:
                return PLAUSIBLE_MESSAGES[f.message_type.full_name]
            return self.message(f.message_type, depth + 1)
        if f.enum_type is not None:
            known = [v.number for v in f.enum_type.values]
            if self.plausible:  # (0, unspecified, is right for some: no hearing exception)
                return st.sampled_from(known)
            return st.one_of(st.sampled_from(known), st.sampled_from([-1, 99, 2**31 - 1, -2**31]),
                             st.integers(-2**31, 2**31 - 1))
        if f.type in INT_RANGES:
            if self.plausible:
                return PLAUSIBLE_INTS.get(f.name, st.integers(0, 100))
            lo, hi = INT_RANGES[f.type]
            return _ints(lo, hi)
        if f.type in (F.TYPE_DOUBLE, F.TYPE_FLOAT):
            return st.floats(-1e6, 1e6) if self.plausible else FLOATS
        if f.type == F.TYPE_BOOL:
            return st.booleans()
        if f.type == F.TYPE_BYTES:
            return st.binary(max_size=40)
        if f.name == "page_token":
            tokens = st.sampled_from(self.page_tokens)
            return st.one_of(st.just(""), tokens) if self.plausible else st.one_of(TEXT, tokens, garbage_tokens())
        name = POOL_OF.get(f.name, f.name)
        real, fresh = self.pools.ids(name), self.pools.fresh.get(name)
        choices = [c for c in (real, fresh) if c is not None]
        if self.plausible:
            return st.one_of(*choices) if choices else st.sampled_from(["", "Begrundelse.", "Lov om x § 1", "ok"])
        return st.one_of(TEXT, *choices)

    def message(self, desc, depth: int = 0) -> st.SearchStrategy:
        if desc.full_name in WELL_KNOWN:
            return WELL_KNOWN[desc.full_name]
        if depth > 4:
            return st.just(request_class_of(desc)())
        key = f"{desc.full_name}/{depth}"
        if key not in self._cache:
            fields = {f.name: self.field(f, depth) for f in desc.fields}
            # Plausible: every scalar field set (most are required), messages and lists now and then.
            required = {n: s for n, s in fields.items() if self.plausible and not (
                desc.fields_by_name[n].message_type or desc.fields_by_name[n].is_repeated)}
            optional = {n: s for n, s in fields.items() if n not in required}
            self._cache[key] = st.fixed_dictionaries(required, optional=optional).map(
                lambda d, desc=desc: build(desc, d))
        return self._cache[key]

    def one_field_made_wild(self, desc, wild: "Requests") -> st.SearchStrategy:
        """A plausible request with one of its fields, or one field of a message in it (the
        first of a list), drawn by `wild` instead."""
        return wild.made_wild(self.message(desc), desc)

    def made_wild(self, requests: st.SearchStrategy, desc) -> st.SearchStrategy:
        """A request of `requests` with one of its fields, or one field of a message in it
        (the first of a list), drawn by this (wild) builder instead."""
        def mutate(request, path, value):
            out = type(request)()
            out.CopyFrom(request)
            msg = out
            for f in path[:-1]:
                if f.is_repeated:
                    items = getattr(msg, f.name)
                    msg = items[0] if len(items) else items.add()
                else:
                    msg = getattr(msg, f.name)
            msg.ClearField(path[-1].name)
            build_into(msg, {path[-1].name: value})
            return out
        paths = [(f,) for f in desc.fields]
        paths += [(f, g) for f in desc.fields if f.message_type and f.message_type.full_name not in WELL_KNOWN
                  for g in f.message_type.fields]
        if not paths:
            return requests
        return st.one_of(*[st.builds(mutate, requests, st.just(path), self.field(path[-1], len(path) - 1))
                           for path in paths])


def recipes(pools: Pools) -> dict[str, st.SearchStrategy]:
    """Requests that pass validation, for the calls that open the way to others (a grant
    to pay, an approval, a case): the generic plausible ones seldom do (a draft's outcome,
    amounts and hearing exception must agree). Mixed in, and with one field made wild."""
    ids = pools.ids
    months = st.sampled_from(MONTHS)
    text = st.sampled_from(["Indkomsten er under grænsen.", "Lov om individuel boligstøtte § 1"])
    amounts = st.lists(PLAUSIBLE_MESSAGES["hub.v1.PeriodAmount"], min_size=1, max_size=1)
    grant = st.builds(lambda rid, case, outcome, amounts, reasoning, basis: decisions_pb2.SubmitDraftDecisionRequest(
        request_id=rid, case_id=case, outcome=outcome, amounts=amounts, reasoning=reasoning, legal_basis=basis),
        FRESH_ID, ids("case_id"),
        st.sampled_from([decisions_pb2.OUTCOME_GRANTED, decisions_pb2.OUTCOME_PARTLY_GRANTED]), amounts, text, text)
    refusal = st.builds(lambda rid, case, reasoning, effective: decisions_pb2.SubmitDraftDecisionRequest(
        request_id=rid, case_id=case, outcome=decisions_pb2.OUTCOME_REFUSED, reasoning=reasoning,
        legal_basis="Lov om individuel boligstøtte § 8", effective_from=effective),
        FRESH_ID, ids("case_id"), text,
        st.one_of(st.none(), st.sampled_from([date_pb2.Date(year=2026, month=m, day=1) for m in (1, 4, 7)])))
    return {
        "SubmitDraftDecision": st.one_of(grant, refusal),
        "ApproveDecision": st.builds(lambda rid, d: decisions_pb2.ApproveDecisionRequest(request_id=rid, decision_id=d),
                                     FRESH_ID, ids("decision_id")),
        "CreateCase": st.builds(lambda rid, m, cpr, b, ch: cases_pb2.CreateCaseRequest(
            request_id=rid, municipality_code=m, cpr=cpr, benefit_code=b, channel=ch),
            FRESH_ID, ids("municipality_code"), pools.fresh["cpr"],
            st.sampled_from(["BOLIGSTOETTE", "FOLKEPENSION", "BOERNEBIDRAG"]), st.integers(1, 5)),
        "AddInformation": st.builds(lambda rid, case, v: cases_pb2.AddInformationRequest(
            request_id=rid, case_id=case, source=cases_pb2.INFORMATION_SOURCE_REGISTER, kind="income.annual",
            value=struct_pb2.Value(number_value=v)), FRESH_ID, ids("case_id"), st.floats(0, 1e6)),
        "RunPayments": st.builds(lambda rid, p: payments_pb2.RunPaymentsRequest(request_id=rid, period=p),
                                 FRESH_ID, months),
        "SchedulePayments": st.builds(lambda rid, d, p: payments_pb2.SchedulePaymentsRequest(
            request_id=rid, decision_id=d, period=p), FRESH_ID, ids("decision_id"), months),
        "RunControl": st.builds(lambda rid, p, rules: control_pb2.RunControlRequest(request_id=rid, period=p,
                                                                                  rules=rules),
                                FRESH_ID, months, st.lists(st.integers(1, 5), max_size=2)),
        "RunBilling": st.builds(lambda rid, q: billing_pb2.RunBillingRequest(request_id=rid, quarter=q),
                                FRESH_ID, st.sampled_from(["2025-Q3", "2025-Q4", "2026-Q1", "2024-Q4"])),
        "RecordControlOutcome": st.builds(lambda rid, f, o, note: control_pb2.RecordControlOutcomeRequest(
            request_id=rid, finding_id=f, outcome=o, note=note), FRESH_ID, ids("finding_id"), st.integers(1, 3),
            text),
    }


def request_class_of(desc):
    from google.protobuf import message_factory
    return message_factory.GetMessageClass(desc)


def build(desc, values: dict):
    return build_into(request_class_of(desc)(), values)


def build_into(msg, values: dict):
    desc = msg.DESCRIPTOR
    for name, v in values.items():
        f = desc.fields_by_name[name]
        if f.is_repeated:
            getattr(msg, name).extend(v)
        elif f.message_type is not None:
            getattr(msg, name).CopyFrom(v)
        else:
            setattr(msg, name, v)
    return msg


# ---- page tokens ------------------------------------------------------------------------------

def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


CURSORS = st.one_of(st.sampled_from([2**63, 2**63 - 1, 2**64, 10**30, -1, -2**63, -2**63 - 1, 0, 1.5, 1e30, -0.0,
                                     "12", "", None, True, [], {}, [1], "x" * 1000]),
                    st.integers(), st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=12))


def garbage_tokens() -> st.SearchStrategy:
    return st.one_of(
        st.binary(max_size=30).map(_b64),
        st.builds(lambda a, q: _b64(json.dumps({"a": a, "q": q}).encode()), CURSORS, st.text(max_size=16)),
        st.builds(lambda k: _b64(json.dumps({"k": k, "q": "x"}).encode()), st.lists(CURSORS, max_size=4)),
        st.sampled_from([_b64(b"[]"), _b64(b"null"), _b64(b"1"), _b64(b'{"a":1}'), _b64(b'{"q":"x"}'), "=", "==",
                         "!!!", _b64(b"\xff\xfe")]))


def edited(token: str) -> st.SearchStrategy:
    """A token the hub issued with its cursor edited (its query hash kept, so that the
    cursor reaches the query)."""
    data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))

    def with_cursor(c):
        out = dict(data)
        if "a" in out:
            out["a"] = c
        else:
            key = list(out["k"])
            out["k"] = c if isinstance(c, list) else key[:-1] + [c] if key else [c]
        return _b64(json.dumps(out).encode())
    choices = [CURSORS.map(with_cursor)]
    if "k" in data:  # a composite key: its parts edited, dropped, added
        n = len(data["k"])
        choices.append(st.builds(lambda i, c: with_cursor([*data["k"][:i], c, *data["k"][i + 1:]]),
                                 st.integers(0, n - 1), CURSORS))
        choices.append(st.sampled_from([with_cursor(data["k"][:-1]), with_cursor(data["k"] + ["x"]),
                                        with_cursor(["not a time", *data["k"][1:]]),
                                        with_cursor(["0001-01-01T00:00:00", *data["k"][1:]]),
                                        with_cursor(["9999-12-31T23:59:59.999999+00:00", *data["k"][1:]]),
                                        with_cursor(["2026-03-02T09:00:00+14:00", *data["k"][1:]]),
                                        with_cursor([[], {}, None])]))
    return st.one_of(*choices)


# ---- calling ----------------------------------------------------------------------------------

class Call(NamedTuple):
    method: Any  # MethodDescriptor
    token: str | None
    request: Any  # the request message, or its bytes
    purpose: str | None  # the x-purpose header

    def __repr__(self) -> str:  # (hypothesis shows a failing example's calls so)
        request = shown(self.request).split("\n")[0]
        return f"Call({self.method.full_name}, token={self.token!r}, purpose={self.purpose!r}, request: {request})"


# x-purpose: printable ASCII (what gRPC metadata carries), short and long.
PURPOSES = st.one_of(st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=30),
                     st.builds(lambda c, n: c * n, st.sampled_from(["x", " ", "9"]),
                               st.sampled_from([200, 201, 1000, 4000])))


class Outcome:
    def __init__(self, code, err=None, answer=None):
        self.code, self.err, self.answer = code, err, answer


def shown(request) -> str:
    """The request as text, long texts shortened (the test's output must stay readable)."""
    if isinstance(request, bytes):
        return f"(deeply nested, as bytes, base64) {base64.b64encode(request).decode()}"
    text = text_format.MessageToString(request, as_one_line=True, as_utf8=True)
    text = re.sub(r'"((?:[^"\\]|\\.){300})(?:[^"\\]|\\.)+"', lambda m: f'"{m.group(1)}..." (long)', text)
    raw = request.SerializeToString()
    return text + (f"\n    bytes (base64): {base64.b64encode(raw).decode()}" if len(raw) <= 4000 else "")


def _encode(request) -> bytes:
    return request if isinstance(request, bytes) else request.SerializeToString()


class Caller:
    def __init__(self, channel: grpc.Channel):
        self.callables = {}
        for service, m in METHODS:
            kind = channel.unary_stream if m.server_streaming else channel.unary_unary
            self.callables[m.full_name] = kind(f"/{service}/{m.name}", request_serializer=_encode,
                                               response_deserializer=response_class(m).FromString)
        self.sent = 0
        self.codes: dict[str, int] = {}
        self.called: set[str] = set()
        self.authorised = 0  # calls with a token whose role may make them
        # The citizen portal acts for a citizen of the seed: its calls carry a signed
        # assertion of that citizen (now and then a broken one), set by the test.
        self.citizen: str | None = None
        self.clock = None
        self._assertions = itertools.count()

    def _count(self, c: Call, code: grpc.StatusCode) -> None:
        self.sent += 1
        self.codes[code.name] = self.codes.get(code.name, 0) + 1
        self.called.add(c.method.name)
        self.authorised += c.token in permitted_tokens(c.method)

    def _assertion(self, token: str | None) -> list[tuple[str, str]]:
        """The portal's assertion of its citizen: valid, or every 8th call one of the
        ways it can be wrong (which the hub refuses UNAUTHENTICATED, never INTERNAL)."""
        if token != "t-portal" or self.citizen is None:
            return []
        now, n = self.clock.now(), next(self._assertions)
        broken = [lambda: mint_assertion(self.citizen, now)[:-3] + "AAA",
                  lambda: mint_assertion(self.citizen, now, issued=now - dt.timedelta(hours=1)),
                  lambda: mint_assertion(self.citizen, now, audience="another-hub"),
                  lambda: mint_assertion("3213", now), lambda: "not.a.jwt", lambda: "",
                  lambda: mint_assertion(self.citizen, now, lifetime=dt.timedelta(days=1)),
                  lambda: mint_assertion(self.citizen, now, key="a shared secret of more than 32 bytes", algorithm="HS256")]
        value = broken[n // 8 % len(broken)]() if n % 8 == 7 else mint_assertion(self.citizen, now)
        return [("x-citizen-assertion", value)]

    def call_all(self, calls: list[Call]) -> list[Outcome]:
        """Send the calls at once; each one's outcome."""
        pending = []
        for m, token, request, purpose in calls:
            metadata = ([("authorization", f"Bearer {token}")] if token else []) + (
                [("x-purpose", purpose)] if purpose is not None else []) + self._assertion(token)
            fn = self.callables[m.full_name]
            if m.server_streaming:
                call = fn(request, metadata=metadata, timeout=30)
                threading.Timer(STREAM_READ_SECONDS, call.cancel).start()
                pending.append(("stream", call))
            else:
                pending.append(("unary", fn.future(request, metadata=metadata, timeout=30)))
        outcomes = []
        for c, (kind, call) in zip(calls, pending):
            try:
                answer = None
                if kind == "unary":
                    answer = call.result()
                else:
                    for _ in itertools.islice(call, 2):
                        pass
                    call.cancel()
                outcomes.append(Outcome(grpc.StatusCode.OK, answer=answer))
            except grpc.RpcError as err:
                outcomes.append(Outcome(err.code(), err))
            self._count(c, outcomes[-1].code)
        return outcomes


# Violation names: a field path of the request ("amounts[0].period_end",
# "filter.event_types[2]"), "request" when the request could not be parsed at all, or
# the metadata the hub reads (x-purpose).
_PATH_PART = re.compile(r"^([a-z_][a-z0-9_]*)(?:\[(\d+)\])?$")


def names_a_field(desc, name: str) -> bool:
    if name in ("request", "x-purpose"):
        return True
    for part in name.split("."):
        match = _PATH_PART.match(part)
        if desc is None or not match or match.group(1) not in desc.fields_by_name:
            return False
        f = desc.fields_by_name[match.group(1)]
        if match.group(2) is not None and not f.is_repeated:
            return False
        desc = f.message_type
    return True


def check(m, outcome: Outcome, cprs: list[str]) -> str | None:
    """What is wrong with the answer to a call of `m`, if anything."""
    if outcome.code in BAD_CODES:
        return f"{outcome.code.name}: {outcome.err.details()}"
    if outcome.err is None:
        return None
    text = outcome.err.details() or ""
    if any(c in text for c in cprs):
        return "the error text names a CPR number"
    if outcome.code == grpc.StatusCode.INVALID_ARGUMENT:
        fields, info = details(outcome.err)
        if not fields or info is None:
            return f"INVALID_ARGUMENT without field violations and ErrorInfo: {text}"
        wrong = [f for f in fields if not names_a_field(m.input_type, f)]
        if wrong:
            return f"field violations that name no field of {m.input_type.name}: {wrong}"
        if any(c in str(fields) for c in cprs):
            return "a field violation names a CPR number"
    return None


# ---- the seed: real objects of every kind ---------------------------------------------------

def seed_hub(hub, clock, tmp_path) -> tuple[Pools, list[str]]:
    """Cases, information, drafts (approved, pending, returned), sent decisions,
    hearings, complaints, payment orders, claims, a payment batch and a subscription;
    their ids go into the pools. Returns the pools and the CPRs used."""
    pools, cprs = Pools(), []
    bo, cw, bs = hub.as_("t-backoffice"), hub.as_("t-cw-101"), hub.as_("t-bs-101")
    provider = hub.as_("t-provider-a")
    disp = dispatcher(hub.engine, clock, file_adapters(tmp_path / "drops"))

    def case(**kw):
        c = bo.CreateCase(create_req(**kw))
        pools.add("case_id", c.case_id)
        cprs.append(c.cpr)
        item = bo.AddInformation(info_req(c.case_id, kind="income.annual", value=250000.0)).item
        pools.add("item_id", item.item_id)
        return c, item

    granted = []
    for municipality in ("101", "101", "751"):  # housing benefit: approved automatically
        c, _ = case(municipality=municipality)
        granted.append(bo.SubmitDraftDecision(draft_req(c.case_id, amounts=[period(125_000)])).decision)
    pending = []
    for _ in range(3):  # folkepension: waits for the caseworker
        c, _ = case(benefit="FOLKEPENSION")
        pending.append(bo.SubmitDraftDecision(draft_req(c.case_id, amounts=[period(1_450_000)])).decision)
    # A refusal on register income: waits for a hearing. The citizen of the first grant
    # (whose decision gets a complaint below) applied: the portal acts for that citizen.
    c, fact = case(cpr=cprs[0])
    refusal = bo.SubmitDraftDecision(draft_req(c.case_id, outcome=decisions_pb2.OUTCOME_REFUSED, amounts=[],
                                               decisive_fact_ids=[fact.item_id])).decision
    hearing = bo.StartHearing(decisions_pb2.StartHearingRequest(request_id=rid(), decision_id=refusal.decision_id))
    pools.add("hearing_id", hearing.hearing_id)
    for municipality, benefit in [("751", "FOLKEPENSION"), ("101", "BOLIGSTOETTE"), ("101", "BOLIGSTOETTE"),
                                  ("147", "BOERNEBIDRAG")]:
        case(municipality=municipality, benefit=benefit)  # informed, no draft yet
    cw.ApproveDecision(decisions_pb2.ApproveDecisionRequest(request_id=rid(), decision_id=pending[0].decision_id))
    cw.ReturnDraft(decisions_pb2.ReturnDraftRequest(request_id=rid(), decision_id=pending[1].decision_id,
                                                    reason="Mangler oplysninger."))
    for d in granted + pending + [refusal]:
        pools.add("decision_id", d.decision_id)
    for d in granted:   # a control finding on each grant (as a control run makes them; the registers are not here)
        pools.add("finding_id", finding_on(hub, d.case_id))
    disp.drain()  # letters sent: complaints can be filed
    for d in granted[:2]:
        complaint = bs.FileComplaint(complaints_pb2.FileComplaintRequest(
            request_id=rid(), decision_id=d.decision_id, channel=common_pb2.CHANNEL_LETTER,
            grounds="Uenig i beregningen."))
        pools.add("complaint_id", complaint.complaint_id)
    bo.SubmitStatement(complaints_pb2.SubmitStatementRequest(request_id=rid(), complaint_id=complaint.complaint_id,
                                                             text="Redegørelse."))
    list(bo.RunPayments(payments_pb2.RunPaymentsRequest(request_id=rid(), period="2026-04")))
    batch = provider.FetchPaymentBatch(payments_pb2.FetchPaymentBatchRequest(max_orders=3))
    pools.add("batch_id", batch.batch_id)
    for i in batch.instructions:
        pools.add("end_to_end_id", i.order.end_to_end_id)
    # Paid, and then a repayment decision for part of it: a claim on each of those cases.
    provider.ReportSettlement(payments_pb2.ReportSettlementRequest(request_id=rid(), settlements=[
        report(i.order) for i in batch.instructions]))
    for i in batch.instructions:
        pools.add("claim_id", repay(bo, i.order.case_id, 10_000, approver=cw)[1].claim_id)
    for o in bo.ListPayments(payments_pb2.ListPaymentsRequest(page_size=20)).orders:
        pools.add("end_to_end_id", o.end_to_end_id)
    for name in ("fuzz-sub", "fuzz.sub-2"):
        bo.CreateSubscription(events_pb2.CreateSubscriptionRequest(request_id=rid(), name=name))
        pools.add("name", name)
    operator = hub.as_("t-operator")
    for m in operator.ListOutboxMessages(operations_pb2.ListOutboxMessagesRequest(page_size=5)).messages:
        pools.add("message_id", m.message_id)
    pools.by_field["cpr"] = list(cprs)
    clock.advance(days=40)  # processing deadlines and reconsiderations are overdue now
    return pools, cprs


def harvest_tokens(caller: Caller) -> list[tuple]:
    """(method, token, request) of every list the seed made long enough for a second
    page, with the page token the hub issued for it."""
    found = []
    for _, m in METHODS:
        fields = m.input_type.fields_by_name
        if m.server_streaming or "page_token" not in fields or "page_size" not in fields:
            continue
        for token in permitted_tokens(m):
            request = request_class(m)(page_size=1)
            try:
                answer = caller.callables[m.full_name](request, metadata=[("authorization", f"Bearer {token}")]
                                                       + caller._assertion(token), timeout=30)
            except grpc.RpcError:
                continue
            if answer.next_page_token:
                found.append((m, token, request, answer.next_page_token))
    return found


# ---- the test ---------------------------------------------------------------------------------

def test_no_request_makes_the_hub_answer_internal_or_unknown(hub, clock, tmp_path, capsys):
    pools, cprs = seed_hub(hub, clock, tmp_path)
    caller = Caller(hub.channel)
    caller.citizen, caller.clock = cprs[0], clock
    harvested = harvest_tokens(caller)
    # Lists the seed fills past one page: their tokens are edited below.
    assert {m.name for m, *_ in harvested} >= {"ListCases", "ListPendingApprovals", "ListPayments",
                                                "ListAuditEntries"}, [m.name for m, *_ in harvested]
    tokens = [h[3] for h in harvested]
    wild, plausible = Requests(pools, tokens), Requests(pools, tokens, plausible=True)
    recipe = recipes(pools)
    by_method = {m.full_name: st.one_of(wild.message(m.input_type), plausible.message(m.input_type),
                                        plausible.one_field_made_wild(m.input_type, wild),
                                        *([recipe[m.name]] * 2 + [wild.made_wild(recipe[m.name], m.input_type)]
                                          if m.name in recipe else []))
                 for _, m in METHODS}
    by_list: dict[str, list] = {}
    for h in harvested:
        by_list.setdefault(h[0].full_name, []).append(h)
    replays = {name: st.sampled_from(hs).flatmap(lambda h: edited(h[3]).map(
        lambda t, h=h: Call(h[0], h[1], _with_token(h[2], t), None))) for name, hs in by_list.items()}

    @st.composite
    def call(draw, m):
        if m.full_name in replays and draw(st.integers(0, 3)) == 3:
            return draw(replays[m.full_name])  # a list the hub paged, with its token's cursor edited
        who = draw(st.integers(0, 19))
        token = (draw(st.sampled_from(permitted_tokens(m))) if who < 17 else draw(st.sampled_from(TOKENS))
                 if who < 19 else draw(st.sampled_from([None, "no-such-token"])))
        purpose = draw(PURPOSES) if draw(st.integers(0, 4)) == 4 else None
        request = draw(by_method[m.full_name])
        nests = [f for f in m.input_type.fields if f.message_type and f.message_type.full_name in DEEP_TYPES]
        if nests and draw(st.integers(0, 19)) == 19:  # a Struct or Value deeper than parsers go
            f, depth = draw(st.sampled_from(nests)), draw(st.sampled_from([48, 49, 50, 51, 99, 100, 101, 500]))
            return Call(m, token, request.SerializeToString() + _field(f.number, deep_bytes(
                f.message_type.full_name, depth)), purpose)
        return Call(m, token, request, purpose)

    @st.composite
    def batches(draw):
        """BATCH calls of as many methods (drawn as a permutation, not one by one: hypothesis
        draws the first of a list far more often than the others)."""
        methods = draw(st.permutations([m for _, m in METHODS]))[:BATCH]
        return [draw(call(m)) for m in methods]

    failures: dict[tuple[str, str], str] = {}  # (method, problem) -> a request that shows it
    examples = math.ceil(FUZZ_REQUESTS / BATCH)

    @settings(max_examples=examples, deadline=None, derandomize=FUZZ_SEED is None, database=None,
              phases=[Phase.explicit, Phase.generate] + ([] if SURVEY else [Phase.shrink]), print_blob=True,
              suppress_health_check=list(HealthCheck))
    @given(batches())
    def fuzz(batch):
        outcomes = caller.call_all(batch)
        for o in outcomes:
            if o.answer is not None:
                pools.learn(o.answer)
        wrong = [(c, problem) for c, o in zip(batch, outcomes) if (problem := check(c.method, o, cprs))]
        found = {}
        for c, problem in wrong:
            role = next((x["role"] for x in CLIENTS if x["token"] == c.token), c.token)
            purpose = f"\n    x-purpose: {c.purpose!r}" if c.purpose is not None else ""
            found.setdefault((c.method.full_name, problem),
                             f"{c.method.full_name} as {role}: {problem}\n    request: {shown(c.request)}{purpose}")
        for key, text in found.items():
            failures.setdefault(key, text)
        assert SURVEY or not found, "\n".join(found.values())

    if FUZZ_SEED is not None:
        fuzz = seed(int(FUZZ_SEED))(fuzz)
    print(f"contract fuzz: {examples} examples of {BATCH} requests, seed "
          f"{FUZZ_SEED if FUZZ_SEED is not None else 'derandomized'}")
    fuzz()
    assert not failures, f"{len(failures)} kinds of wrong answers:\n" + "\n".join(failures.values())
    with capsys.disabled():
        print(f"\ncontract fuzz: {caller.sent} requests to {len(METHODS)} RPCs, answered "
              f"{dict(sorted(caller.codes.items()))}")
    assert caller.sent >= FUZZ_REQUESTS, caller.sent
    # Every RPC was called; most calls by a client whose role may make them (so they reach
    # validation and beyond, not only the door).
    assert caller.called == {m.name for _, m in METHODS}
    assert caller.authorised >= caller.sent * 0.6, (caller.authorised, caller.sent)
    assert_healthy(hub)


def _with_token(request, token: str):
    out = type(request)()
    out.CopyFrom(request)
    out.page_token = token
    return out


def assert_healthy(hub) -> None:
    """Health says SERVING for the hub and every service, and a call that writes works."""
    health = health_pb2_grpc.HealthStub(hub.channel)
    for name in [""] + SERVICE_NAMES:
        answer = health.Check(health_pb2.HealthCheckRequest(service=name), timeout=10)
        assert answer.status == health_pb2.HealthCheckResponse.SERVING, name
    bo = hub.as_("t-backoffice")
    case = bo.CreateCase(create_req())
    assert bo.GetCase(cases_pb2.GetCaseRequest(case_id=case.case_id)).case_id == case.case_id
