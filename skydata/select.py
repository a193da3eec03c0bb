"""Selection by source and difficulty. A rule keeps a source's items whose judged difficulty is strictly above
a threshold (or all of them); items of sources without a rule are dropped, and so are items without a level
whose rule needs one: ``unparsable`` (the judge never gave a parsable level), ``judge_error`` (its request
failed) or ``unlabelled`` (no judge ran). Every drop says which rule and why."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from skydata.records import Drop, Item
from skydata.stage import StageResult, run_items
from skyeval.errors import SkyevalError


@dataclass(frozen=True)
class Rule:
    """Keep items of ``source`` with difficulty > ``above`` (``None``: keep them all). ``source="*"`` is any."""

    source: str
    above: float | None = None

    def __str__(self) -> str:
        return f"{self.source}:all" if self.above is None else f"{self.source}>{self.above:g}"


PRESETS: dict[str, tuple[Rule, ...]] = {
    # Sky-T1-7B step 1: MATH harder than level 3, olympiads harder than 8, every AIME/AMC problem.
    "sky-t1": (Rule("math", 3), Rule("olympiads", 8), Rule("amc_aime", None)),
    "all": (Rule("*", None),),
}

_RULE = re.compile(r"^\s*([\w*.-]+)\s*(?:>\s*(\d+(?:\.\d+)?)|:\s*all)\s*$")


def parse_rule(text: str) -> Rule:
    """``"math>3"`` or ``"amc_aime:all"``."""
    m = _RULE.match(text)
    if m is None:
        raise SkyevalError(
            f"bad selection rule {text!r}; use SOURCE>LEVEL or SOURCE:all (e.g. math>3, amc_aime:all)"
        )
    return Rule(m.group(1), float(m.group(2)) if m.group(2) else None)


def resolve_rules(preset: str | None, rules: Sequence[str] = ()) -> tuple[Rule, ...]:
    """A preset's rules, overridden or extended per source by explicit ``rules``."""
    if preset is not None and preset not in PRESETS:
        raise SkyevalError(
            f"unknown selection preset {preset!r}; choose one of: {', '.join(sorted(PRESETS))}"
        )
    merged: dict[str, Rule] = {r.source: r for r in PRESETS.get(preset or "", ())}
    for text in rules:
        rule = parse_rule(text)
        merged[rule.source] = rule
    if not merged:
        raise SkyevalError("no selection rules: give --preset or at least one --rule")
    return tuple(merged.values())


def needs_label(rules: Sequence[Rule], source: str) -> bool:
    """Whether an item of ``source`` needs a difficulty label under ``rules`` (the judge skips the others)."""
    rule = _rule_for(_table(rules), source)
    return rule is not None and rule.above is not None


def _table(rules: Sequence[Rule]) -> Mapping[str, Rule]:
    return {r.source: r for r in rules}


def _rule_for(table: Mapping[str, Rule], source: str) -> Rule | None:
    return table.get(source) or table.get("*")


def select(items: Iterable[Item], rules: Sequence[Rule]) -> Iterator[Item | Drop]:
    table = _table(rules)
    for item in items:
        rule = _rule_for(table, item.source)
        if rule is None:
            yield Drop(item.id, "source_not_selected", item.source)
        elif rule.above is None:
            yield item
        else:
            level = item.meta.get("difficulty")
            if level is None:
                yield _no_level(item, rule)
            elif float(level) > rule.above:
                yield item
            else:
                yield Drop(item.id, "too_easy", f"difficulty {float(level):g} under rule {rule}")


_WHY_NO_LEVEL = {
    "unparsable": "the judge gave no parsable level",
    "judge_error": "the judge request failed (asked again on the next run)",
}


def _no_level(item: Item, rule: Rule) -> Drop:
    status = str(item.meta.get("difficulty_status", ""))
    reason = status if status in _WHY_NO_LEVEL else "unlabelled"
    why = _WHY_NO_LEVEL.get(status, "no judge labelled it")
    return Drop(item.id, reason, f"rule {rule} needs a difficulty label; {why}")


def run(src: str | Path, out: str | Path, rules: Sequence[Rule], *, progress: bool = True) -> StageResult:
    """The select stage: the items of ``src`` that ``rules`` keep go to ``out``."""
    return run_items("select", src, out, lambda rows: select(rows, rules), progress=progress)
