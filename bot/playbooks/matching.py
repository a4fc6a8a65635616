"""Pick the playbook for an incident: the most specific one whose rules all hold.

Specificity score (higher wins), summed over the rules that matched:

=====================================  ======
rule                                   points
=====================================  ======
``runbook`` matched (``runbook_url``)    150
``alertname`` matched                  100
``pagerduty_service`` matched (id/name) 100
each exact ``labels`` entry            20
each ``labels`` entry with ``=~`` regex 10
each ``title_keywords`` phrase found   5
=====================================  ======

Every rule kind a playbook declares must hold (any listed alertname, any listed service, every
label, at least one keyword), otherwise it does not match at all. ``alertname`` and ``runbook``
both say which alert a playbook is for, so either one holding is enough: an alert whose
``runbook_url`` annotation points at the runbook a playbook was imported from finds it even
when the alert was renamed. The runbook is the strongest key, hence the most points. Ties go to the playbook with
more declared constraints, then to the alphabetically first id, so the choice never depends on
file order. ``manual`` playbooks are never picked. When nothing matches, the fallback is the
``default: true`` playbook, else the first (by id) playbook without match rules.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from urllib.parse import unquote, urlsplit

from bot.playbooks.schema import MatchRules, Playbook

RUNBOOK_POINTS = 150
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
    runbook_url: str | None = None


@dataclass(frozen=True)
class MatchResult:
    playbook: Playbook
    score: int
    constraints: int
    matched: tuple[str, ...]


def constraint_count(rules: MatchRules) -> int:
    """Labels count one each; the alert (name or runbook), service and keywords one per kind."""
    return len(rules.labels) + sum(
        bool(x) for x in (rules.alertname or rules.runbook, rules.pagerduty_service, rules.title_keywords)
    )


_INDEX_STEMS = ("index", "_index", "readme")


def _stem_and_anchor(path: str) -> tuple[str, str]:
    """``docs/Alerts/etcdMembersDown.md#Defrag`` -> (``etcdmembersdown``, ``defrag``).

    An index page (``folder/_index.md``, ``folder/README.md``) is published as its folder.
    """
    parts = urlsplit(path.strip())
    fragment = unquote(parts.fragment).casefold()
    segments = [unquote(segment) for segment in parts.path.split("/") if segment]
    if not segments:
        return "", fragment
    stem = PurePosixPath(segments[-1]).stem if "." in segments[-1] else segments[-1]
    if stem.casefold() in _INDEX_STEMS and len(segments) > 1:
        stem = segments[-2]
    return stem.casefold(), fragment


def runbook_matches(rule: str, runbook_url: str) -> bool:
    """The URL ends in the runbook ``rule`` names: same file stem (case-insensitive), and the
    same ``#anchor`` when the rule names one."""
    rule_stem, rule_anchor = _stem_and_anchor(rule)
    url_stem, url_anchor = _stem_and_anchor(runbook_url)
    if not rule_stem or rule_stem != url_stem:
        return False
    return not rule_anchor or rule_anchor == url_anchor


def score_playbook(playbook: Playbook, facts: IncidentFacts) -> MatchResult | None:
    """The match of ``playbook`` against ``facts``, or ``None`` if a declared rule fails."""
    rules = playbook.match
    if playbook.manual or rules.is_empty:
        return None
    score, matched = 0, []
    by_runbook = next((r for r in rules.runbook if facts.runbook_url and runbook_matches(r, facts.runbook_url)), None)
    by_name = bool(rules.alertname) and facts.alertname is not None and facts.alertname in rules.alertname
    if (rules.alertname or rules.runbook) and not (by_runbook or by_name):
        return None
    if by_runbook:
        score += RUNBOOK_POINTS
        matched.append(f"runbook_url={facts.runbook_url}")
    if by_name:
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
