"""The ``severity`` label → level table, telling someone when a label is not in it.

An alert labelled ``severity=page`` used to become P3 without a word. The table is still
forgiving (unknown values fall back to P3, never a refused webhook), but each unknown value
is logged once, naming FIREBREAK_SEVERITY_MAPPING, and every alert that hit the fallback
is counted (``firebreak_unknown_severity_labels_total`` in /metrics).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import TypeVar, overload

from bot.domain.severity import Severity

log = logging.getLogger(__name__)

_T = TypeVar("_T")

#: Distinct unknown values remembered (and so logged); alert labels are sender-controlled.
REMEMBERED = 200
SHOWN = 64


class ObservedMapping(dict[str, Severity]):
    """A plain dict for lookups; ``get`` of a value not in it reports it before the fallback."""

    def __init__(self, mapping: Mapping[str, Severity], *, on_unknown: Callable[[], None] | None = None) -> None:
        super().__init__(mapping)
        self._on_unknown = on_unknown
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    @overload
    def get(self, key: str, default: None = None, /) -> Severity | None: ...
    @overload
    def get(self, key: str, default: Severity, /) -> Severity: ...
    @overload
    def get(self, key: str, default: _T, /) -> Severity | _T: ...

    def get(self, key: str, default: object = None, /) -> object:
        found = super().get(key)
        if found is not None or not key:
            return found if found is not None else default
        if self._on_unknown is not None:
            self._on_unknown()
        with self._lock:
            first = key not in self._seen and len(self._seen) < REMEMBERED
            if first:
                self._seen.add(key)
        if first:
            log.warning(
                "unknown severity label %r: treated as %s; map it with FIREBREAK_SEVERITY_MAPPING",
                key[:SHOWN],
                default.value if isinstance(default, Severity) else "the default",
                extra={"severity_label": key[:SHOWN]},
            )
        return default
