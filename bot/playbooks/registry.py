"""The playbooks a running server knows, loaded leniently at start.

The strict :func:`load_directory` refuses a directory with any problem, which is right for ``lint`` and CI.
A server must not refuse to start (and so stop taking alerts) because one YAML file has a
typo: :func:`load_registry` skips each file that has a problem (warnings aside), keeps the
rest, and hands the problems back so the caller can log them as ``file:line: message``. Problems that span files
(a duplicate id, a second default) are reported on the later file, so the first one wins.
"""

from __future__ import annotations

import logging
import shlex
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from bot.playbooks.lint import lint_loaded
from bot.playbooks.loader import read_directory
from bot.playbooks.matching import IncidentFacts, match_playbook, rank_playbooks
from bot.playbooks.problems import LintProblem, PlaybookLoadError
from bot.playbooks.schema import MatchRules, Playbook

log = logging.getLogger(__name__)


@dataclass
class PlaybookRegistry:
    """Playbooks by id, plus the problems found while loading them."""

    playbooks: dict[str, Playbook] = field(default_factory=dict)
    problems: list[LintProblem] = field(default_factory=list)
    directory: Path | None = None

    @classmethod
    def of(cls, playbooks: Iterable[Playbook]) -> PlaybookRegistry:
        return cls(playbooks={playbook.id: playbook for playbook in playbooks})

    def get(self, playbook_id: str) -> Playbook | None:
        return self.playbooks.get(playbook_id.strip().lower())

    def ids(self) -> list[str]:
        return sorted(self.playbooks)

    def match(self, facts: IncidentFacts) -> tuple[Playbook | None, tuple[str, ...]]:
        """The playbook for ``facts`` and the rules that picked it (empty for the fallback).

        First the strict rules of :mod:`bot.playbooks.matching` (every declared rule kind
        holds). If nothing matches, a second pass reads ``title_keywords`` as the way to
        recognise incidents *without* an alert, because the starter set declares both an
        alertname list and keywords for one kind of incident:

        - an alert incident is matched on its alert rules alone (alertname, runbook, labels,
          PagerDuty service), so ``HighErrorRate`` finds high-error-rate whatever its title;
        - an incident a person declared (no alertname, labels or service) is matched on the
          title keywords alone, so "Checkout 5xx spike" finds high-error-rate too.

        Then the fallback (the ``default: true`` playbook).
        """
        pool = list(self.playbooks.values())
        ranked = rank_playbooks(pool, facts)
        if not ranked:
            relaxed = _title_only(pool) if _declared_by_person(facts) else _without_keywords(pool)
            ranked = rank_playbooks(relaxed, facts)
        if ranked:
            return self.playbooks[ranked[0].playbook.id], ranked[0].matched
        return match_playbook(pool, facts), ()

    def __len__(self) -> int:
        return len(self.playbooks)


def _declared_by_person(facts: IncidentFacts) -> bool:
    return not (facts.alertname or facts.labels or facts.service_id or facts.service_name or facts.runbook_url)


def _title_only(playbooks: Iterable[Playbook]) -> list[Playbook]:
    """Copies whose match rules are just their title keywords (for ranking only)."""
    return [
        playbook.model_copy(update={"match": MatchRules(title_keywords=playbook.match.title_keywords)})
        for playbook in playbooks
        if playbook.match.title_keywords and not playbook.manual
    ]


def _without_keywords(playbooks: Iterable[Playbook]) -> list[Playbook]:
    """Copies without title keywords, for playbooks that also have alert rules."""
    return [
        playbook.model_copy(update={"match": playbook.match.model_copy(update={"title_keywords": []})})
        for playbook in playbooks
        if playbook.match.title_keywords and not playbook.manual
        and (playbook.match.alertname or playbook.match.runbook or playbook.match.labels or playbook.match.pagerduty_service)
    ]


def load_directory(directory: str | Path) -> list[Playbook]:
    """All playbooks in ``directory``; raise :class:`PlaybookLoadError` listing every problem.

    Serving with a half-loaded set would silently change which playbook an incident gets, so
    one bad file fails the whole load (run ``firebreak playbooks lint`` to see why).
    """
    path = Path(directory)
    if not path.is_dir():
        raise PlaybookLoadError([LintProblem(str(path), None, "not a directory")])
    loaded = read_directory(path)
    problems = [problem for problem in lint_loaded(loaded) if not problem.warning]
    if problems:
        raise PlaybookLoadError(problems)
    return [item.playbook for item in loaded if item.playbook is not None]


def load_registry(directory: str | Path) -> PlaybookRegistry:
    """Every playbook in ``directory`` that has no problem; never raises for content."""
    path = Path(directory)
    if not path.is_dir():
        problem = LintProblem(str(path), None, "not a directory: no playbooks loaded (set FIREBREAK_PLAYBOOKS_DIR)")
        return PlaybookRegistry(problems=[problem], directory=path)
    loaded = read_directory(path)
    problems = lint_loaded(loaded)
    broken = {problem.path for problem in problems if not problem.warning}
    playbooks = [item.playbook for item in loaded if item.playbook is not None and str(item.path) not in broken]
    registry = PlaybookRegistry.of(playbooks)
    registry.problems = problems
    registry.directory = path
    return registry


def log_registry(registry: PlaybookRegistry) -> None:
    """One warning per problem, then a summary, so a skipped file is impossible to miss."""
    for problem in registry.problems:
        log.warning("playbook loaded with a warning: %s" if problem.warning else "playbook skipped: %s", problem)
    if registry.directory is not None and not registry.directory.is_dir():
        return  # the problem above says it all; "0 files skipped" of no folder would not
    log.info(
        "loaded %d playbooks from %s (%d files skipped; run `firebreak playbooks lint` for details)",
        len(registry),
        registry.directory,
        _skipped(registry),
    )


def _skipped(registry: PlaybookRegistry) -> int:
    return len({problem.path for problem in registry.problems if not problem.warning})


def registry_warnings(registry: PlaybookRegistry) -> list[str]:
    """What an operator must see at start-up, not only in the log: no playbook at all (every
    incident would go without steps, matching and its policy's escalation), or files skipped.

    A server started in another folder than the checkout (a systemd unit's working
    directory) finds no ``playbooks/`` there; the log line alone was easy to miss."""
    where = registry.directory
    if where is not None and not where.is_dir():
        return [f"no playbooks loaded: {where} is not a folder (set FIREBREAK_PLAYBOOKS_DIR to the folder of playbook YAML files)"]
    skipped = _skipped(registry)
    if len(registry) == 0:
        return [f"no playbooks loaded from {where}: {'every file was skipped' if skipped else 'it holds no playbook files'} (run `firebreak playbooks lint {shlex.quote(str(where))}`)"]
    if skipped:
        return [f"{skipped} playbook file{'s' if skipped > 1 else ''} in {where} skipped (run `firebreak playbooks lint {shlex.quote(str(where))}`)"]
    return []
