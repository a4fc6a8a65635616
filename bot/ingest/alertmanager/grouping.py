"""Which alert groups belong together (no I/O): correlation keys and the storm guard's knobs.

Correlation: a new group joins an open incident of the same source when every label named
by ``correlate_by`` is present, non-empty and equal, within ``correlate_window`` of the
incident's opening. The values are read from the group's *common labels* (the labels every
alert of the group carries with one value; Alertmanager's ``commonLabels``), falling back to
``groupLabels`` for senders that leave ``commonLabels`` out. A label only some alerts of the
group carry cannot describe the group, so it never correlates.

Storm guard: once ``storm_threshold`` incidents opened within ``storm_window``, further new
groups below the exempt severities fold into one storm incident (see ``placement``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from bot.domain.severity import Severity
from bot.ingest.alertmanager.models import AlertGroup
from bot.playbooks.matching import IncidentFacts

#: ``incidents.correlation_key`` holds 512 characters; longer keys are hashed.
_MAX_KEY = 500
DEFAULT_WINDOW = timedelta(minutes=5)

#: The ``correlate_by`` of the playbook a group would match (None: it sets none).
PlaybookCorrelation = Callable[[IncidentFacts], tuple[str, ...] | None]


@dataclass(frozen=True)
class Grouping:
    """Correlation and storm guard settings; the defaults here are off (settings turn them on)."""

    correlate_by: tuple[str, ...] = ()
    correlate_window: timedelta = DEFAULT_WINDOW
    storm_threshold: int = 0
    storm_window: timedelta = DEFAULT_WINDOW
    storm_exempt: frozenset[Severity] = frozenset({Severity.P0})
    playbook_correlate_by: PlaybookCorrelation | None = field(default=None, compare=False)
    #: A drill's groups correlate and storm among drill incidents only, real ones among real ones.
    drill: bool = False

    @property
    def storm_guard(self) -> bool:
        return self.storm_threshold > 0

    def names_for(self, facts: IncidentFacts) -> tuple[str, ...]:
        """The labels to correlate on: the matching playbook's ``correlate_by``, else the setting."""
        if self.playbook_correlate_by is not None:
            names = self.playbook_correlate_by(facts)
            if names is not None:
                return names
        return self.correlate_by

    def folds(self, severity: Severity) -> bool:
        """Whether a group of ``severity`` may be folded into a storm incident."""
        return self.storm_guard and severity not in self.storm_exempt


@dataclass(frozen=True)
class Correlation:
    key: str
    values: Mapping[str, str]


def group_labels(group: AlertGroup) -> dict[str, str]:
    """The labels that describe the whole group (see the module docstring)."""
    return dict(group.common_labels) if group.common_labels else dict(group.group_labels)


def correlation_of(group: AlertGroup, names: tuple[str, ...]) -> Correlation | None:
    """The group's correlation key over ``names``; None when off or a label is missing or empty.

    The key is ``am|name=value|…`` (``am@<source>|…`` for a named source), names sorted, so
    groups of different sources never share one. ``%``, ``|`` and ``=`` in the source, names
    and values are percent-escaped, so the key is unambiguous: two different sets of values
    never make one key (``cluster="eu-1|namespace=x"`` is not ``cluster="eu-1", namespace="x"``).
    """
    if not names:
        return None
    labels = group_labels(group)
    values = {}
    for name in sorted(set(names)):
        value = labels.get(name, "")
        if not value.strip():
            return None
        values[name] = value
    prefix = "am" if group.source is None else f"am@{_escape(group.source)}"
    key = prefix + "".join(f"|{_escape(name)}={_escape(value)}" for name, value in values.items())
    if len(key) > _MAX_KEY:
        key = prefix + "|sha256:" + hashlib.sha256(key.encode()).hexdigest()
    return Correlation(key, values)


def _escape(text: str) -> str:
    """``text`` with the key's separators percent-escaped (``%`` first, so it stays one-to-one)."""
    return text.replace("%", "%25").replace("|", "%7C").replace("=", "%3D")


def facts_of(group: AlertGroup, title: str, runbook: str | None) -> IncidentFacts:
    """What playbook matching would know of the incident this group opens."""
    labels = group_labels(group)
    alertname = labels.get("alertname") or (group.alerts[0].alertname if group.alerts else "") or None
    return IncidentFacts(alertname=alertname, labels=labels, title=title, runbook_url=runbook)
