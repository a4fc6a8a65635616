"""Playbooks: the YAML format, loading and linting, matching an incident, importing runbooks.

Plain Python with no Slack, HTTP, PagerDuty or database imports, so the incident core, the
chat adapters and the CLI can all use it.
"""

from bot.domain.durations import format_duration, parse_duration
from bot.playbooks.importer import ImportReport, ImportResult, import_runbook, import_text
from bot.playbooks.lint import lint_directory
from bot.playbooks.matching import IncidentFacts, MatchResult, match_playbook, rank_playbooks
from bot.playbooks.problems import LintProblem, PlaybookLoadError
from bot.playbooks.registry import load_directory
from bot.playbooks.schema import (
    EscalationLevel,
    EscalationPolicy,
    MatchRules,
    Phase,
    Playbook,
    SeverityDefinition,
    Step,
    Target,
)

__all__ = [
    "EscalationLevel",
    "EscalationPolicy",
    "ImportReport",
    "ImportResult",
    "IncidentFacts",
    "LintProblem",
    "MatchResult",
    "MatchRules",
    "Phase",
    "Playbook",
    "PlaybookLoadError",
    "SeverityDefinition",
    "Step",
    "Target",
    "format_duration",
    "import_runbook",
    "import_text",
    "lint_directory",
    "load_directory",
    "match_playbook",
    "parse_duration",
    "rank_playbooks",
]
