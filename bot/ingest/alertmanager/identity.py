"""What an alert group is: the source that sent it plus its ``groupKey``.

A group belongs to one incident (as one of its children, ``alert_groups``), and this module
is the only place that says how a group is keyed. ``groupKey`` alone is not enough: two Alertmanager clusters (prod and staging) whose
routes have no ``group_by`` both send ``{}:{}``, and they are different groups. So each
webhook URL may name its source (``/webhooks/alertmanager?source=staging``) and the source
is part of the key. Without a source the key is ``am:<groupKey>`` exactly as before sources
existed, so incidents opened before an upgrade keep their groups.

Grafana-managed alerting posts the same shape; its groups are keyed under the source
``grafana`` unless the URL names another, so they never merge with an Alertmanager group
that happens to share a ``groupKey``.

HA peers of one cluster send the same ``groupKey`` from different ``externalURL`` values;
the URL is deliberately not part of the key, so the pair makes one incident.
"""

from __future__ import annotations

import hashlib
import re

#: Source names: short, lowercase, safe in a URL and in a log line.
SOURCE_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
#: The source of Grafana's groups when the webhook URL names none.
GRAFANA_SOURCE = "grafana"
#: ``alert_groups.dedup_key`` (and ``incidents.dedup_key``) hold 512 characters; longer keys are hashed.
_MAX_KEY = 500


def valid_source(name: str) -> bool:
    return SOURCE_NAME.fullmatch(name) is not None


def group_dedup_key(group_key: str, source: str | None) -> str:
    """``am:<groupKey>`` without a source, ``am@<source>:<groupKey>`` with one.

    A group key too long for the column (many group labels) is replaced by its SHA-256.
    """
    prefix = "am:" if source is None else f"am@{source}:"
    key = prefix + group_key
    if len(key) <= _MAX_KEY:
        return key
    return prefix + "sha256:" + hashlib.sha256(group_key.encode()).hexdigest()


def source_of(dedup_key: str) -> str | None:
    """The source a key was made with (None for ``am:`` keys); inverse of ``group_dedup_key``."""
    if dedup_key.startswith("am@"):
        name, _, _rest = dedup_key[3:].partition(":")
        return name
    return None
