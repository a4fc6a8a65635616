"""Pick the playbook for an incident: the most specific one whose rules all hold.

Specificity score (higher wins), summed over the rules that matched:

=====================================  ======
rule                                   points
=====================================  ======
``alertname`` matched                  100
``pagerduty_service`` matched (id/name) 100
each exact ``labels`` entry            20
each ``labels`` entry with ``=~`` regex 10
each ``title_keywords`` phrase found   5
=====================================  ======

Every rule kind a playbook declares must hold (any listed alertname, any listed service, every
label, at least one keyword), otherwise it does not match at all. Ties go to the playbook with
more declared constraints, then to the alphabetically first id, so the choice never depends on
file order. ``manual`` playbooks are never picked. When nothing matches, the fallback is the
``default: true`` playbook, else the first (by id) playbook without match rules.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from bot.playbooks.schema import MatchRules, Playbook

ALERTNAME_POINTS = 100
SERVICE_POINTS = 100
EXACT_LABEL_POINTS = 20
REGEX_LABEL_POINTS = 10
KEYWORD_POINTS = 5


@dataclass(frozen=True)
class IncidentFacts:
    """What is known about an incident when a playbook is chosen."""

    alertname: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    service_id: str | None = None
    service_name: str | None = None
    title: str = ""


@dataclass(frozen=True)
class MatchResult:
    playbook: Playbook
    score: int
    constraints: int
    matched: tuple[str, ...]


def constraint_count(rules: MatchRules) -> int:
    """Labels count one each; alertname, service and keywords one per kind declared."""
    return len(rules.labels) + sum(bool(x) for x in (rules.alertname, rules.pagerduty_service, rules.title_keywords))


def score_playbook(playbook: Playbook, facts: IncidentFacts) -> MatchResult | None:
    """The match of ``playbook`` against ``facts``, or ``None`` if a declared rule fails."""
    rules = playbook.match
    if playbook.manual or rules.is_empty:
        return None
    score, matched = 0, []
    if rules.alertname:
        if facts.alertname is None or facts.alertname not in rules.alertname:
            return None
        score += ALERTNAME_POINTS
        matched.append(f"alertname={facts.alertname}")
    if rules.pagerduty_service:
        wanted = {value.casefold() for value in rules.pagerduty_service}
        hit = next((v for v in (facts.service_id, facts.service_name) if v and v.casefold() in wanted), None)
        if hit is None:
            return None
        score += SERVICE_POINTS
        matched.append(f"pagerduty_service={hit}")
    for key, expected in sorted(rules.labels.items()):
        actual = facts.labels.get(key)
        if actual is None:
            return None
        if expected.startswith("=~"):
            if re.fullmatch(expected[2:], actual) is None:
                return None
            score += REGEX_LABEL_POINTS
        elif actual == expected:
            score += EXACT_LABEL_POINTS
        else:
            return None
        matched.append(f"{key}={actual}")
    if rules.title_keywords:
        found = [kw for kw in rules.title_keywords if _contains_phrase(facts.title, kw)]
        if not found:
            return None
        score += KEYWORD_POINTS * len(found)
        matched.extend(f"keyword={kw}" for kw in found)
    return MatchResult(playbook, score, constraint_count(rules), tuple(matched))


def _contains_phrase(title: str, phrase: str) -> bool:
    """Whole-word, case-insensitive: ``disk`` matches "Disk full" but not "diskette"."""
    words = [re.escape(word) for word in phrase.split()]
    if not words:
        return False
    return re.search(r"(?<!\w)" + r"\s+".join(words) + r"(?!\w)", title, re.IGNORECASE) is not None


def rank_playbooks(playbooks: Iterable[Playbook], facts: IncidentFacts) -> list[MatchResult]:
    """Matching playbooks, best first (score, then constraints, then id)."""
    results = [r for r in (score_playbook(p, facts) for p in playbooks) if r is not None]
    return sorted(results, key=lambda r: (-r.score, -r.constraints, r.playbook.id))


def fallback_playbook(playbooks: Iterable[Playbook]) -> Playbook | None:
    candidates = [p for p in playbooks if p.is_fallback]
    return min(candidates, key=lambda p: (not p.default, p.id), default=None)


def match_playbook(playbooks: Iterable[Playbook], facts: IncidentFacts) -> Playbook | None:
    """The most specific matching playbook, else the fallback, else ``None``."""
    pool = list(playbooks)
    ranked = rank_playbooks(pool, facts)
    return ranked[0].playbook if ranked else fallback_playbook(pool)
