"""Record what a real ``prometheus-alertmanager`` sends, as fixtures for the corpus tests.

    .venv/bin/python -m tests.fakes.alertmanager_capture [OUTDIR]

runs the scenarios of ``alertmanager_scenarios`` (plain, ``max_alerts: 2``, an HA pair)
against a loopback recorder and writes each body Alertmanager posted (as JSON, keys sorted
and indented; nothing added or removed) to ``OUTDIR`` (default ``tests/fakes/alertmanager_captured``). The files are kept in
the repository so the corpus tests run without the binary; rerun this after an Alertmanager
upgrade and the corpus tests say what changed.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from tests.fakes.alertmanager_process import AlertmanagerProcess
from tests.fakes.alertmanager_scenarios import HA_URLS, TIMERS, ha_pair, plain, truncated
from tests.fakes.webhook_receiver import WebhookReceiver

DEFAULT_DIR = Path(__file__).parent / "alertmanager_captured"


def _write(outdir: Path, name: str, body: object) -> None:
    path = outdir / f"{name}.json"
    path.write_text(json.dumps(body, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {path}")


def capture(outdir: Path) -> None:
    outdir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as work, WebhookReceiver() as recorder:
        root = Path(work)
        with AlertmanagerProcess(recorder.url("/plain"), root / "plain", **TIMERS) as am:
            firing, resolved = plain(am, recorder)
        _write(outdir, "plain-firing", firing)
        _write(outdir, "plain-resolved", resolved)
        recorder.clear()
        with AlertmanagerProcess(recorder.url("/truncated"), root / "truncated", max_alerts=2, **TIMERS) as am:
            firing, resolved = truncated(am, recorder)
        _write(outdir, "max-alerts-firing", firing)
        _write(outdir, "max-alerts-resolved", resolved)
        recorder.clear()
        peer_a = AlertmanagerProcess(recorder.url("/ha"), root / "ha-a", external_url=HA_URLS[0], **TIMERS)
        peer_b = AlertmanagerProcess(recorder.url("/ha"), root / "ha-b", external_url=HA_URLS[1], **TIMERS)
        with peer_a, peer_b:
            first, second = ha_pair((peer_a, peer_b), recorder)
        _write(outdir, "ha-peer-a-firing", first)
        _write(outdir, "ha-peer-b-firing", second)


if __name__ == "__main__":
    capture(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_DIR)
