"""Straight-through processing: an application of a benefit the catalogue marks for
automatic processing goes from register look-ups to a calculated draft, automatic
approval where the rules allow it, letter, posting, archive and payment lines with no
person involved. A case that cannot go on says why, and goes to the back office.

    started ─ CPR register ─┬─ rent register, income register (each adult) ─ calculated draft ─┬─ DECIDED
                            └─ (a register does not know the person, ...) ──────────────────────┴─ FELL_OUT + reason

These are the hub's rules for what it may do on its own; the steps run in
hub.service.automation, under the hub's own identity, and are audited as such."""
from __future__ import annotations

import enum
from dataclasses import dataclass, field

from hub.domain.identity import Identity, Role
from hub.domain.model import Benefit, Case, Channel
from hub.domain.rules.facts import STATEMENT_FACTS

# The hub acting on its own: audit entries and events name this client.
SYSTEM_CLIENT = "hub-automation"

# Applications that arrive complete enough to be processed without a person: the
# citizen applied digitally or on the paper form (not by phone or at the counter,
# where a person is already handling it).
AUTOMATIC_CHANNELS = frozenset({Channel.SELF_SERVICE, Channel.LETTER})


class Automation(str, enum.Enum):
    IN_PROGRESS = "IN_PROGRESS"   # waiting for registers
    DECIDED = "DECIDED"           # approved automatically
    FELL_OUT = "FELL_OUT"         # a person takes over (fallout_reason says why)


class Fallout(str, enum.Enum):
    MISSING_REGISTER_DATA = "MISSING_REGISTER_DATA"          # a register does not know the person or dwelling
    APPLICATION_INCOMPLETE = "APPLICATION_INCOMPLETE"        # the application lacks what only the citizen can say
    STATEMENT_CONTRADICTS_REGISTER = "STATEMENT_CONTRADICTS_REGISTER"
    PERSON_STATUS = "PERSON_STATUS"                          # CPR: dead or emigrated
    DISCRETION_NEEDED = "DISCRETION_NEEDED"                  # the benefit allows discretion, or the calculation
                                                             # has a point a person must judge
    OTHER_OPEN_CASE = "OTHER_OPEN_CASE"                      # the citizen has another open case here
    HEARING_NEEDED = "HEARING_NEEDED"                        # adverse on register data: the hub started a hearing
    RULE_DATA_MISSING = "RULE_DATA_MISSING"                  # the rule set lacks a figure the case needs
    NOT_CALCULABLE = "NOT_CALCULABLE"                        # no rule set covers the period
    TAKEN_OVER = "TAKEN_OVER"                                # a person submitted a draft first


def processed_automatically(benefit: Benefit, case: Case) -> bool:
    return benefit.automatic_processing and case.channel in AUTOMATIC_CHANNELS


def system_identity(case: Case) -> Identity:
    """The hub's identity for its own steps on `case`: the back office's work, within
    the case's municipality (and authority) only."""
    kind, _, code = case.authority_key.partition(":")
    return Identity(SYSTEM_CLIENT, Role.BACK_OFFICE, frozenset({case.municipality_code}),
                    frozenset({code}) if kind == "central" else frozenset())


def is_statement_fact(name: str) -> bool:
    """Facts only the application can give (missing: the application is incomplete);
    any other missing fact comes from a register."""
    return name in {n for n, _, _ in STATEMENT_FACTS.values()}


@dataclass
class AutomationFigures:
    """Straight-through processing in figures for one municipality and benefit (or all)."""
    municipality_code: str
    benefit_code: str
    applications: int = 0
    processed_automatically: int = 0
    decided_automatically: int = 0
    in_progress: int = 0
    fell_out: int = 0
    fell_out_by_reason: dict[str, int] = field(default_factory=dict)

    @property
    def decided_without_a_person_basis_points(self) -> int:
        return (self.decided_automatically * 10000 + self.applications // 2) // self.applications \
            if self.applications else 0

    def add(self, automation: str | None, fallout_reason: str | None, n: int) -> None:
        self.applications += n
        if automation:
            self.processed_automatically += n
        if automation == Automation.DECIDED.value:
            self.decided_automatically += n
        elif automation == Automation.IN_PROGRESS.value:
            self.in_progress += n
        elif automation == Automation.FELL_OUT.value:
            self.fell_out += n
            key = fallout_reason or "UNSPECIFIED"
            self.fell_out_by_reason[key] = self.fell_out_by_reason.get(key, 0) + n


def report(rows: list[tuple[str, str, str | None, str | None, int]]) -> tuple[list[AutomationFigures],
                                                                              AutomationFigures]:
    """Figures per (municipality, benefit), in that order, and their total."""
    by: dict[tuple[str, str], AutomationFigures] = {}
    total = AutomationFigures("", "")
    for municipality, benefit, automation, reason, n in rows:
        by.setdefault((municipality, benefit), AutomationFigures(municipality, benefit)).add(automation, reason, n)
        total.add(automation, reason, n)
    return [by[k] for k in sorted(by)], total
