"""The rule sets the hub starts with (issue 26): one JSON file per benefit and year in
rule_sets/, in the form hub.domain.rules.rule_set_from_dict reads; rule_sets/README.md says
where each figure is to be checked and which are missing or third-party."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

RULE_SETS = Path(__file__).resolve().parent / "rule_sets"
SETTLEMENT = Path(__file__).resolve().parent / "settlement"


def rule_set_files() -> list[dict[str, Any]]:
    """Every seed rule set, by benefit code and then effective date."""
    found = [json.loads(p.read_text(encoding="utf-8")) for p in RULE_SETS.glob("*.json")]
    return sorted(found, key=lambda d: (d["benefit_code"], d["effective_from"]))


def settlement_files() -> list[dict[str, Any]]:
    """The final settlement figures per benefit (settlement/), which migration 0014 adds to
    each rule set in force as a new version: {"benefit_code", "note", "parameters"}."""
    found = [json.loads(p.read_text(encoding="utf-8")) for p in SETTLEMENT.glob("*.json")]
    return sorted(found, key=lambda d: d["benefit_code"])


CONTROL_RULES = Path(__file__).resolve().parent / "control_rules"


def control_rule_files() -> list[dict[str, Any]]:
    """The IT control's rule data the hub starts with (control_rules/, one file per rule
    in the form hub.domain.control.control_rule_from_dict reads), by rule and effective date."""
    found = [json.loads(p.read_text(encoding="utf-8")) for p in CONTROL_RULES.glob("*.json")]
    return sorted(found, key=lambda d: (d["rule_code"], d["effective_from"]))


# ---- subscription billing (issue 28) ---------------------------------------------------------

BILLING = Path(__file__).resolve().parent / "billing"


def price_model_files() -> list[dict[str, Any]]:
    """The price model's versions the hub starts with (billing/price_models.json, in the form
    hub.domain.billing.price_model_from_dict reads), by effective date: version 1, 2, ..."""
    found = json.loads((BILLING / "price_models.json").read_text(encoding="utf-8"))["versions"]
    return sorted(found, key=lambda d: d["effective_from"])


def cost_share_example() -> dict[str, Any]:
    """The COST_SHARE example (billing/cost-share-example.json; not seeded)."""
    return json.loads((BILLING / "cost-share-example.json").read_text(encoding="utf-8"))
