"""A calculation's worksheet: the facts a formula reads (each checked against the unit the
formula expects, so that kroner can never be read as øre), the figures of the rule set it
uses, the steps as the letter shows them and the points a person must judge. Each formula
module fills one and turns it into a Result."""
from __future__ import annotations

from typing import Any, Mapping

from hub.domain.model import PeriodKind
from hub.domain.rules import Facts, Result, RuleSet, Step, Unit, require


class Worksheet:
    def __init__(self, facts: Facts, rules: RuleSet, vocabulary: Mapping[str, Unit]):
        self.facts, self.rules, self.vocabulary = facts, rules, vocabulary
        self.steps: list[Step] = []
        self.assessment: list[str] = []
        self._facts_used: dict[str, None] = {}
        self._parameters_used: dict[str, None] = {}

    def need(self, *names: str) -> None:
        """All of `names` (MissingFacts naming every one that is missing), each in the unit and
        of the type the formula reads (ValueError: the case's facts were extracted wrongly)."""
        require(self.facts, *names)
        for name in names:
            f, unit = self.facts[name], self.vocabulary[name]
            if f.unit != unit:
                raise ValueError(f"fact {name} is in {f.unit.value}, the formula reads {unit.value}")
            if unit is Unit.FLAG:
                ok, wanted = isinstance(f.value, bool), "true or false"
            elif unit is Unit.TEXT:
                ok, wanted = isinstance(f.value, str), "a word"
            else:
                ok, wanted = isinstance(f.value, int) and not isinstance(f.value, bool) and f.value >= 0, \
                    "a whole number, not negative"
            if not ok:
                raise ValueError(f"fact {name} must be {wanted}")

    def fact(self, name: str) -> Any:
        self.need(name)
        self._facts_used[name] = None
        return self.facts[name].value

    def choice(self, name: str, allowed: tuple[str, ...]) -> str:
        value = self.fact(name)
        if value not in allowed:
            raise ValueError(f"fact {name} is {value!r}, the formula reads one of {', '.join(allowed)}")
        return value

    def value(self, name: str) -> int:
        """A figure of the rule set (MissingRuleData if it was not found when published)."""
        v = self.rules.value(name)
        self._parameters_used[name] = None
        return v

    def section(self, name: str) -> str:
        """Where the rule set says the figure belongs in the act: a step that applies the figure
        cites it, so that a corrected section is a data change."""
        p = self.rules.parameters.get(name)
        return p.section if p else ""

    def step(self, text: str, value: int, unit: Unit = Unit.OERE_PER_YEAR, basis: str = "", working: str = "") -> int:
        self.steps.append(Step(text, value, unit, basis, working))
        return value

    def assess(self, text: str) -> None:
        self.assessment.append(text)

    def result(self, amount_oere: int, per: PeriodKind, scheme: str = "") -> Result:
        return Result(amount_oere, per, tuple(self.steps), tuple(self._facts_used), tuple(self._parameters_used),
                      tuple(self.assessment), scheme)


def whole_kroner(oere: int) -> int:
    """Øre rounded half up to whole kroner (still in øre)."""
    return (2 * oere + 100) // 200 * 100


def hours(hundredths: int) -> str:
    """Hundredths of an hour as the letter writes them: 3700 -> '37', 3750 -> '37,5'."""
    whole, part = divmod(hundredths, 100)
    return f"{whole:,}".replace(",", ".") + (f",{part:02d}".rstrip("0") if part else "")
