"""The words runbook authors use for sections, and what each means to the importer.

Kept apart from the parsing code so supporting a new runbook dialect is a one-line change.
"""

from __future__ import annotations

import re

#: Label (heading or bold label) -> segment kind. Matched on whole words, longest first.
LABEL_KINDS: dict[str, str] = {
    "symptoms": "symptoms", "symptom": "symptoms", "signs": "symptoms", "indicators": "symptoms",
    "detection": "symptoms", "how to recognize": "symptoms", "what you see": "symptoms",
    "confirm": "symptoms", "triggers": "alert", "trigger": "alert",
    "alert": "alert", "alerts": "alert",
    "diagnosis": "diagnosis", "diagnose": "diagnosis", "investigation": "diagnosis",
    "investigate": "diagnosis", "triage": "diagnosis", "debugging": "diagnosis",
    "checks": "diagnosis", "troubleshooting": "diagnosis",
    "common causes": "causes", "possible causes": "causes", "likely causes": "causes",
    "causes": "causes", "root cause": "causes", "root causes": "causes",
    "resolution": "resolution", "resolve": "resolution", "actions": "resolution",
    "action": "resolution", "immediate actions": "resolution", "mitigation": "resolution",
    "remediation": "resolution", "fix": "resolution", "workaround": "resolution",
    "recovery steps": "resolution", "solution": "resolution", "response": "resolution",
    "verification": "verification", "verify": "verification", "validation": "verification",
    "confirm recovery": "verification", "post-checks": "verification",
    "communication": "communication", "communications": "communication",
    "communicate": "communication", "stakeholders": "communication", "status page": "communication",
    "prevention": "prevention", "follow-up": "prevention", "follow up": "prevention",
    "long-term fixes": "prevention", "lessons learned": "prevention",
    "escalation": "escalation", "escalate": "escalation", "escalation path": "escalation",
    "note": "notes", "notes": "notes", "warning": "notes", "caution": "notes",
    "important": "notes", "tip": "notes", "info": "notes", "background": "notes", "context": "notes",
    "overview": "description", "description": "description", "summary": "description",
    "meaning": "description", "impact": "description", "what it means": "description",
    "severity": "severity", "priority": "severity",
}

#: What may follow a label word and keep its meaning: "Resolution steps", "Diagnosis / Investigation".
_LABEL_SUFFIXES = frozenset(
    "steps step and or policy path procedure procedures plan checklist matrix actions notes details "
    "process".split()
)

#: Parts that make a section an incident playbook (communication alone does not).
CORE_SEGMENTS = {"symptoms", "alert", "diagnosis", "causes", "resolution"}

PHASE_SEGMENTS = {"symptoms", "alert", "diagnosis", "causes", "resolution", "verification", "communication", "prevention"}

PROCEDURE_WORDS = (
    "deploy", "deployment", "rollback", "roll back", "backup", "backups", "restore", "recovery",
    "migration", "migrate", "maintenance", "hotfix", "upgrade", "release", "failover",
    "procedure", "procedures", "checklist", "steps", "rotation", "rotate", "scaling", "onboarding",
)
INCIDENT_WORDS = (
    "incident", "incidents", "troubleshooting", "troubleshoot", "issue", "issues", "problem",
    "problems", "outage", "failure", "failures", "failing", "error", "errors", "down", "slow",
    "high", "leak", "leaks", "lag", "timeout", "timeouts", "not working", "not starting",
    "exhausted", "full", "alert", "crash", "crashing", "degraded", "unavailable",
)
REFERENCE_WORDS = (
    "overview", "architecture", "entry points", "call graph", "flow", "sequence", "components",
    "dependencies", "access patterns", "formats", "format", "dashboards", "urls", "links",
    "resources", "reference", "glossary", "schedule", "targets", "thresholds", "windows",
    "channels", "vendors", "contacts", "contact", "rules", "endpoints", "responses", "about",
    "introduction", "version", "changelog", "rto", "rpo",
)
TOC_WORDS = ("table of contents", "contents", "toc")

#: First words of shell commands; inline code starting with one becomes a step command.
CLI_TOOLS = frozenset(
    "kubectl curl wget psql pg_dump pg_restore pg_isready mysql mongo mongosh redis-cli df du free top "
    "htop ps kill systemctl journalctl service docker docker-compose podman helm aws gcloud az "
    "openssl dig nslookup ping traceroute netstat ss lsof tail head cat less grep find ls rm mv cp "
    "vercel npm npx yarn pnpm node python python3 pip git ssh scp rsync terraform ansible watch jq "
    "tar gzip gunzip zcat crontab sudo vmstat iostat dmesg uptime nc telnet certbot vault consul "
    "etcdctl nginx apachectl make ./scripts sh bash".split()
)

SHELL_LANGUAGES = frozenset(
    "bash sh shell console zsh fish shell-session powershell ps1 pwsh cmd bat sql psql postgresql "
    "mysql logql promql".split()
)


def normalise(text: str) -> str:
    """Lower-case, numbering and trailing punctuation removed: ``"3. Resolution:"`` -> ``"resolution"``."""
    cleaned = re.sub(r"^\s*(?:\d+[.)]|[ivx]+\.|step\s+\d+[:.]?)\s+", "", text.strip(), flags=re.IGNORECASE)
    cleaned = re.sub(r"\s*\([^)]*\)\s*$", "", cleaned)
    return cleaned.strip().rstrip(":.").strip().lower()


def has_word(text: str, words: tuple[str, ...] | frozenset[str]) -> bool:
    lowered = text.lower()
    return any(re.search(r"(?<!\w)" + re.escape(word) + r"(?!\w)", lowered) for word in words)


def label_kind(label: str) -> str | None:
    """The segment kind a label names, or ``None`` for labels like "Vercel" or "Immediate"."""
    cleaned = normalise(label)
    if cleaned in LABEL_KINDS:
        return LABEL_KINDS[cleaned]
    # "Resolution steps", "Diagnosis / Investigation", "Escalation policy"
    for word in sorted(LABEL_KINDS, key=len, reverse=True):
        if cleaned.startswith(word):
            rest = cleaned[len(word):].strip()
            if rest.split(" ", 1)[0] in _LABEL_SUFFIXES or rest.startswith(("/", "&", "-", "(")):
                return LABEL_KINDS[word]
    return None


#: A program name or path: ``gsutil``, ``azcopy``, ``./run.sh``, ``bin/rails``, ``/usr/bin/x``.
_PROGRAM = re.compile(r"^(?:[a-z][a-z0-9_.+-]*|\.{0,2}/[\w./-]+|[a-z][\w.-]*/[\w./-]+)$")
#: The word after a program that marks prose, not a command line (`make sure`, `top of`).
_PROSE_SECOND = frozenset("the a an of to is are was be sure that this it and or in on for".split())


def looks_like_command(text: str) -> bool:
    """A tool on the known list, a path to a script, or ``program arg…`` with any program name.

    The known list catches one-word commands (``df``, ``uptime``); any other program needs at
    least one argument, so identifiers and metric names in backticks stay prose.
    """
    words = text.strip().lstrip("$ ").split()
    if not words:
        return False
    first = words[0]
    if first in CLI_TOOLS or first.startswith("./"):
        return True
    if len(words) < 2 or not _PROGRAM.match(first) or words[1].lower() in _PROSE_SECOND:
        return False
    return not first.endswith((".", ",", ":"))
