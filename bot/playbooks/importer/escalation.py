"""Escalation rules written in prose, lists and tables, turned into policy levels.

Runbooks say "if not resolved within 15 minutes, escalate to the DBA", list paths like
"L2 (5-15 min): senior engineer", or tabulate when/who ("+10 min | Team lead | Phone").
Each becomes a :class:`LevelDraft`; :func:`build_policy` orders them and fills delays the
text left out (and says so, because an invented delay must be reviewed).

Whoever is contacted "immediately" or "at page" is the first responder the page itself
reaches, not an escalation level: a level with no delay would fire the moment the incident
opens, before anyone could acknowledge. They are reported as first responders instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bot.playbooks.importer.text import UNIT_PATTERN, as_duration, unit_seconds, window_start
from bot.playbooks.schema import Condition, EscalationLevel, EscalationPolicy, Target

DEFAULT_SPACING = 15 * 60

_VERBS = r"(?:escalate(?:\s+it)?(?:\s+to)?|page|notify|contact|inform|wake\s+up|hand\s+(?:it\s+)?over\s+to)"
_TARGET = re.compile(r"(?<![\w-])" + _VERBS + r"\s+(?P<who>.+)$", re.IGNORECASE)
_WHO_END = re.compile(
    r"(?:,?\s+(?:if|when|within|after|unless|immediately|right away|before|for|once|so that|to investigate)\b|[.;:!?]|\s+\().*$",
    re.IGNORECASE,
)
_DELAY = re.compile(
    r"\b(?:within|after|for|in|over|longer than|more than|exceeds?|past)\s+(\d+)\s*(" + UNIT_PATTERN + r")\b",
    re.IGNORECASE,
)
_IMMEDIATE = re.compile(r"\b(?:immediately|right away|at once|straight away)\b", re.IGNORECASE)
_UNACK = re.compile(r"\b(?:acknowledg\w*|ack(?:ed)?|respond\w*|response|answer\w*)\b", re.IGNORECASE)
_CONDITIONAL = re.compile(r"\b(?:if|when|unless|after|within|immediately)\b", re.IGNORECASE)
LEVEL_NAME = re.compile(
    r"\b(?:L|Level\s*|Tier\s*|T|Stage\s*)(\d+)\b|\b(first|second|third|fourth|1st|2nd|3rd|4th)\s+(?:line|level|tier)\b",
    re.IGNORECASE,
)
_ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "1st": 1, "2nd": 2, "3rd": 3, "4th": 4}


@dataclass
class LevelDraft:
    who: list[str]
    delay: int | None
    condition: Condition = "unresolved"
    name: str | None = None
    description: str = ""
    line: int = 0
    extra: dict[str, str] = field(default_factory=dict)
    #: "If X happens, page Y immediately": on a condition the bot cannot see, so no timed level
    on_condition: bool = False


#: Words that say when, not who: never a target.
PHRASES = frozenset(
    "immediately right away at once straight away now asap at page on page further it them "
    "then first next later also".split()
) | {"at page", "on page", "right away", "at once", "straight away"}
_LEADING_WHEN = re.compile(r"^(?:immediately|right away|at once|straight away|now|asap|then|also|first)\s+(?:to\s+)?", re.IGNORECASE)
_AT_PAGE = re.compile(r"^\s*(?:immediately|at page|on page|at once|right away|when paged|page time|0\s*(?:min|m|s)\w*|t\s*\+?\s*0)\s*$", re.IGNORECASE)


#: Slack's own markup for a person, a user group or a channel, as copied from a message:
#: ``<@U123|bob>``, ``<!subteam^S123|dba>``, ``<#C123|ops>``. Read as the id it names, so
#: its punctuation is not taken for the end of a sentence.
_SLACK_MARKUP = re.compile(
    r"<(?:@(?P<user>[UW][A-Z0-9]+)|#(?P<channel>[CG][A-Z0-9]+))(?:\|[^<>]*)?>"
    # markdown reads <!subteam^S1|@dba> as an e-mail autolink, leaving it without its brackets
    r"|<?!subteam\^(?P<group>S[A-Z0-9]+)(?:\|[^<>\s]*)?>?"
)
#: Slack's other commands (<!here>, <!channel>, <!date^…>): never a target, never paged.
_SLACK_COMMAND = re.compile(r"<![^<>]*>")


def _slack_id(match: re.Match[str]) -> str:
    if match.group("user"):
        return "@" + match.group("user")
    if match.group("group"):
        return "^" + match.group("group")  # not "@": that is a person's handle
    return "#" + match.group("channel")


def split_targets(text: str) -> list[str]:
    who = _LEADING_WHEN.sub("", _SLACK_COMMAND.sub("", _SLACK_MARKUP.sub(_slack_id, text.strip())))
    who = _WHO_END.sub("", who).strip()
    parts = re.split(r"\s*(?:,|\band\b|&|\bplus\b)\s*", who)
    cleaned = [re.sub(r"^(?:the|an?|our|your)\s+", "", part.strip(), flags=re.IGNORECASE) for part in parts]
    return [part for part in cleaned if part and part.lower() not in PHRASES]


def parse_sentence(sentence: str, *, require_condition: bool = False) -> LevelDraft | None:
    """``"If X doesn't recover within 2 minutes, page the DBA and on-call."`` -> a level."""
    match = _TARGET.search(sentence)
    if match is None or (require_condition and not _CONDITIONAL.search(sentence)):
        return None
    targets = split_targets(match.group("who"))
    if not targets:
        return None
    delay_match = _DELAY.search(sentence)
    if delay_match:
        delay: int | None = int(delay_match.group(1)) * unit_seconds(delay_match.group(2))
    else:
        delay = 0 if _IMMEDIATE.search(sentence) else None
    condition: Condition = "unacknowledged" if _UNACK.search(sentence) else "unresolved"
    on_condition = delay == 0 and re.search(r"\b(?:if|when|unless|once)\b", sentence, re.IGNORECASE) is not None
    return LevelDraft(targets, delay, condition, description=sentence.strip(), on_condition=on_condition)


def level_name(text: str) -> str | None:
    match = LEVEL_NAME.search(text)
    if match is None:
        return None
    number = match.group(1) or str(_ORDINALS[match.group(2).lower()])
    return f"L{int(number)}"


def parse_path_item(label: str | None, rest: str, position: int) -> LevelDraft | None:
    """One entry of an escalation path: ``**L2 (5-15 min):** Escalate to senior engineer``."""
    whole = f"{label}: {rest}" if label else rest
    name = level_name(label or "") or level_name(rest)
    delay = window_start(label or "")
    if delay is None:
        delay = window_start(rest)
    who_text = rest if label else LEVEL_NAME.sub("", rest)
    who_text = re.sub(r"\(?\b\d+\s*(?:[-–]|to)?\s*\d*\s*\+?\s*" + UNIT_PATTERN + r"\b\)?:?", "", who_text, flags=re.IGNORECASE)
    verb = _TARGET.search(who_text)
    if verb:
        who_text = verb.group("who")
    who_text = re.sub(r"\s+(?:investigates?|responds?|handles?|is paged|takes over|on duty)\b.*$", "", who_text, flags=re.IGNORECASE)
    targets = split_targets(who_text.strip(" :-–"))
    if not targets or (name is None and delay is None):
        return None
    condition: Condition = "unacknowledged" if _UNACK.search(whole) else "unresolved"
    return LevelDraft(targets, delay, condition, name=name or f"L{position}", description=whole.strip())


def parse_table(header: list[str], rows: list[list[str]]) -> list[LevelDraft] | None:
    """An escalation matrix: needs a who-column and a level or time column."""
    lowered = [cell.lower() for cell in header]

    def column(*words: str) -> int | None:
        return next((i for i, cell in enumerate(lowered) if any(word in cell for word in words)), None)

    who_col = column("who", "contact", "escalate to", "notify", "team", "owner", "responder", "person", "name")
    level_col = column("level", "tier", "stage", "step")
    time_col = column("after", "time", "minute", "min", "delay", "window", "when", "sla")
    if who_col is None or (level_col is None and time_col is None) or who_col in (level_col, time_col):
        return None
    drafts = []
    for row in rows:
        cells = row + [""] * (len(header) - len(row))
        targets = split_targets(cells[who_col]) if cells[who_col].strip() else []
        if not targets:
            continue
        name = level_name(cells[level_col]) if level_col is not None else None
        delay = window_start(cells[time_col]) if time_col is not None else None
        if delay is None and time_col is not None and cells[time_col].strip().isdigit():
            delay = int(cells[time_col].strip()) * 60
        if delay is None and time_col is not None and _AT_PAGE.match(cells[time_col]):
            delay = 0
        description = " | ".join(cell for cell in cells if cell)
        drafts.append(LevelDraft(targets, delay, "unresolved", name, description))
    return drafts or None


def _target(who: str) -> Target:
    if re.fullmatch(r"\^S[A-Z0-9]+", who):  # a user group's id, from Slack markup
        return Target(slack_group=who[1:])
    if re.fullmatch(r"@[\w.-]+", who):
        return Target(slack_user=who)
    if re.fullmatch(r"#[\w.-]+", who):
        return Target(slack_channel=who)
    return Target(who=who)


@dataclass
class PolicyDraft:
    """The policy built from level drafts, what was assumed, and who the page reaches first."""

    policy: EscalationPolicy | None
    assumptions: list[str] = field(default_factory=list)
    first_responders: list[str] = field(default_factory=list)


def build_policy(drafts: list[LevelDraft]) -> PolicyDraft:
    """Order the drafts into a policy; never a level with a 0-second delay (see the module doc)."""
    if not drafts:
        return PolicyDraft(None)
    result = PolicyDraft(None)
    first = [draft for draft in drafts if draft.delay == 0]
    for draft in first:
        result.first_responders.extend(who for who in draft.who if who not in result.first_responders)
    if first:
        result.assumptions.append(
            f"{', '.join(result.first_responders)}: contacted at once, so the page itself reaches them; "
            "kept as first responder, not an escalation level"
        )
    drafts = [draft for draft in drafts if draft.delay != 0]
    if not drafts:
        return result
    if all(draft.delay is None for draft in drafts):
        result.assumptions.append(
            f"escalation delays were not given; assumed {as_duration(DEFAULT_SPACING)} between levels (review them)"
        )
    previous = 0
    timed: list[tuple[int, int, LevelDraft]] = []
    for index, draft in enumerate(drafts):
        if draft.delay is None:
            delay = previous + DEFAULT_SPACING
            if len(result.assumptions) == len(first[:1]):
                result.assumptions.append(f"no delay given for {draft.description!r}; assumed {as_duration(delay)}")
        else:
            delay = draft.delay
        timed.append((delay, index, draft))
        previous = max(previous, delay)
    timed.sort(key=lambda item: (item[0], item[1]))
    levels: list[EscalationLevel] = []
    used: set[str] = set()
    for position, (delay, _, draft) in enumerate(timed, start=1):
        name = draft.name if draft.name and draft.name not in used else f"L{position}"
        while name in used:
            name = f"{name}b"
        used.add(name)
        levels.append(
            EscalationLevel(
                name=name,
                delay=as_duration(delay),
                condition=draft.condition,
                targets=[_target(who) for who in draft.who],
                description=draft.description or None,
            )
        )
    result.policy = EscalationPolicy(levels=levels)
    return result
