"""The benefit formulas by benefit code, and the check a rule set must pass before it is
published: it names exactly the figures its benefit's formula reads, each in the unit the
formula reads it in, with the section and the source it was taken from."""
from __future__ import annotations

from types import ModuleType

from hub.domain.rules import FORMULAS, RuleSet, Unit
from hub.domain.rules import barselsdagpenge, boernebidrag, boligstoette, folkepension, friplads

FORMULAS.update({m.BENEFIT_CODE: m for m in (boligstoette, folkepension, friplads, boernebidrag, barselsdagpenge)})


def formula(code: str) -> ModuleType:
    """The formula module of a benefit (LookupError for a benefit the hub does not calculate)."""
    try:
        return FORMULAS[code]
    except KeyError:
        raise LookupError(f"the hub has no formula for benefit {code}") from None


def settlement_parameters(code: str) -> dict[str, Unit]:
    """The figures a final settlement of the benefit reads (hub.domain.settlement), which
    a rule set may name besides its formula's; none: the benefit is not settled against
    final income."""
    m = FORMULAS.get(code)
    return dict(getattr(m, "SETTLEMENT_PARAMETERS", {})) if m is not None else {}


def check_rule_set(r: RuleSet) -> list[str]:
    """What is wrong with a rule set for publication (empty: nothing). The settlement
    figures are optional: a rule set without them calculates, but does not settle."""
    m = FORMULAS.get(r.benefit_code)
    if m is None:
        return [f"the hub has no formula for benefit {r.benefit_code}"]
    optional = settlement_parameters(r.benefit_code)
    problems = []
    for name, unit in m.PARAMETERS.items():
        p = r.parameters.get(name)
        if p is None:
            problems.append(f"{name}: missing (the formula of {r.benefit_code} reads it; a figure that was not "
                            "found is given as null with a note of what was searched)")
        elif p.unit != unit:
            problems.append(f"{name}: in {p.unit.value}, the formula reads it in {unit.value}")
    for name, unit in optional.items():
        p = r.parameters.get(name)
        if p is not None and p.unit != unit:
            problems.append(f"{name}: in {p.unit.value}, the final settlement reads it in {unit.value}")
    for name, p in r.parameters.items():
        if name not in m.PARAMETERS and name not in optional:
            problems.append(f"{name}: not a figure of the formula of {r.benefit_code}")
            continue
        if not p.section.strip() or not p.source.strip():
            problems.append(f"{name}: needs the section of the act it belongs to and the source it was taken from")
        if p.value is not None and p.value < 0:
            problems.append(f"{name}: must not be negative")
        elif p.value is not None and p.unit is Unit.BASIS_POINTS and p.value > 10000:
            problems.append(f"{name}: {p.value} basis points is more than 100 %")
        elif p.value is not None and p.unit is Unit.FLAG and p.value not in (0, 1):
            problems.append(f"{name}: a flag is 0 or 1")
    return problems
