"""Checks a playbook directory and reports ``file:line: message`` for each problem.

Schema errors come from :mod:`bot.playbooks.loader`; here are the rules that pydantic cannot
express alone: ids unique across files, references to escalation levels that exist, phases
that actually contain steps, at most one default playbook, and a ``correlate_by`` that can
take effect (a warning otherwise).

Two playbooks with the same match rules are a *warning*, not an error: an error makes the
server skip both files, and a working playbook would vanish. Both load; an incident gets the
one with the alphabetically first id (the matcher's tie rule), the other only by hand.
"""

from __future__ import annotations

from pathlib import Path

from bot.playbooks.loader import LoadedFile, read_directory
from bot.playbooks.problems import LintProblem
from bot.playbooks.schema import Playbook
from bot.playbooks.yamlmarks import MarkedDocument


def lint_directory(path: str | Path) -> list[LintProblem]:
    """Every problem in the ``*.yaml``/``*.yml`` files of ``path``, sorted by file and line."""
    directory = Path(path)
    if not directory.is_dir():
        return [LintProblem(str(directory), None, "not a directory")]
    loaded = read_directory(directory)
    if not loaded:
        return [LintProblem(str(directory), None, "no playbooks (*.yaml, *.yml) found")]
    return lint_loaded(loaded)


def lint_loaded(loaded: list[LoadedFile]) -> list[LintProblem]:
    problems: list[LintProblem] = []
    first_seen: dict[str, str] = {}
    defaults: list[str] = []
    for item in loaded:
        problems.extend(item.problems)
        if item.playbook is None or item.document is None:
            continue
        shown = str(item.path)
        playbook, document = item.playbook, item.document
        problems.extend(_check_playbook(shown, playbook, document))
        if playbook.id in first_seen:
            problems.append(
                LintProblem(shown, document.line_of(("id",)), f"duplicate id {playbook.id!r} (also in {first_seen[playbook.id]})")
            )
        else:
            first_seen[playbook.id] = shown
        if playbook.default:
            if defaults:
                problems.append(
                    LintProblem(shown, document.line_of(("default",)), f"more than one default playbook (also {defaults[0]})")
                )
            defaults.append(shown)
    problems.extend(_same_rules(loaded))
    return sorted(problems, key=lambda p: (p.path, p.line or 0, p.message))


def rules_signature(playbook: Playbook) -> tuple[object, ...] | None:
    """What a playbook matches on, normalised; ``None`` for playbooks never matched automatically."""
    rules = playbook.match
    if playbook.manual or playbook.default or rules.is_empty:
        return None
    return (
        tuple(sorted(rules.alertname)),
        tuple(sorted(r.casefold() for r in rules.runbook)),
        tuple(sorted(rules.labels.items())),
        tuple(sorted(s.casefold() for s in rules.pagerduty_service)),
        tuple(sorted(k.casefold() for k in rules.title_keywords)),
    )


def _same_rules(loaded: list[LoadedFile]) -> list[LintProblem]:
    groups: dict[tuple[object, ...], list[LoadedFile]] = {}
    for item in loaded:
        if item.playbook is None or item.document is None:
            continue
        signature = rules_signature(item.playbook)
        if signature is not None:
            groups.setdefault(signature, []).append(item)
    problems = []
    for items in groups.values():
        if len(items) < 2:
            continue
        ranked = sorted(items, key=lambda i: i.playbook.id if i.playbook else "")
        kept = ranked[0]
        for other in ranked[1:]:
            assert other.playbook is not None and other.document is not None and kept.playbook is not None
            problems.append(
                LintProblem(
                    str(other.path),
                    other.document.line_of(("match",)),
                    f"same match rules as {kept.playbook.id!r} ({kept.path}): incidents get {kept.playbook.id!r} "
                    f"(alphabetically first id); {other.playbook.id!r} is only attached by hand",
                    warning=True,
                )
            )
    return problems


def _check_playbook(shown: str, playbook: Playbook, document: MarkedDocument) -> list[LintProblem]:
    problems: list[LintProblem] = []
    if not playbook.phases and not playbook.notes:
        problems.append(
            LintProblem(shown, document.line_of(("phases",)), "playbook has no phases (add phases, or notes for a reference-only playbook)")
        )
    if playbook.correlate_by and (playbook.manual or playbook.match.pagerduty_service):
        why = "a manual playbook is never matched to an alert group" if playbook.manual else "PagerDuty incidents never correlate"
        problems.append(LintProblem(shown, document.line_of(("correlate_by",)), f"correlate_by has no effect: {why}", warning=True))
    level_names = [level.name for level in playbook.escalation.levels] if playbook.escalation else []
    for p_index, phase in enumerate(playbook.phases):
        if not phase.steps:
            label = f"phase {p_index + 1} ({phase.title or phase.kind})"
            problems.append(LintProblem(shown, document.line_of(("phases", p_index)), f"{label} has no steps"))
        for s_index, step in enumerate(phase.steps):
            where = ("phases", p_index, "steps", s_index)
            # ``on_deadline: escalate`` without an escalation block escalates with the default
            # policy (FIREBREAK_DEFAULT_ESCALATION), to its next level; only naming a level needs
            # the playbook's own.
            if step.escalate_to and playbook.escalation is None:
                problems.append(
                    LintProblem(
                        shown,
                        document.line_of((*where, "escalate_to")),
                        f"escalate_to {step.escalate_to!r} names a level, but the playbook has no escalation block"
                        " (leave escalate_to out to escalate to the default policy's next level)",
                    )
                )
            elif step.escalate_to and step.escalate_to not in level_names:
                known = ", ".join(str(name) for name in level_names) or "none"
                problems.append(
                    LintProblem(
                        shown,
                        document.line_of((*where, "escalate_to")),
                        f"escalate_to {step.escalate_to!r} is not an escalation level (levels: {known})",
                    )
                )
    return problems
