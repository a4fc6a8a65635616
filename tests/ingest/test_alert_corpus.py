"""Every fixture of the corpus (tests/fakes/alertmanager_corpus.py) through the real app.

Each case is posted in order with the token, applied by the ingester, and held to its
expected answers, ingest outcomes, incidents, links and timeline notes.
"""

from __future__ import annotations

import pytest

from bot.container import Container
from bot.store.models import IncidentRow, OutboxRow, TimelineRow
from tests.fakes.alertmanager_corpus import CASES, Case
from tests.ingest.support import bearer, client, ingested, rows

URL = "/webhooks/alertmanager"


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_corpus_case(am_container: Container, case: Case) -> None:
    url = URL + (f"?source={case.source}" if case.source else "")
    answers, outcomes = [], []
    with client(am_container) as http:
        for body in case.deliveries:
            response = http.post(url, json=body, headers=bearer())
            answers.append(response.status_code)
            outcomes += ingested(response)
    expect = case.expect
    assert tuple(answers) == expect.answers, f"{case.name} ({case.sender}; {case.shape}): {response.text}"
    assert tuple(outcomes) == expect.ingested
    if expect.error:
        assert expect.error in response.json()["error"] + str(response.json().get("details", ""))
    incidents = rows(am_container, IncidentRow)
    assert len(incidents) == expect.incidents
    if incidents:
        incident = incidents[0]
        assert incident.status == expect.status
        assert incident.dedup_key.startswith(expect.dedup_prefix)
        if expect.severity:
            assert incident.severity == expect.severity
        assert expect.links.items() <= incident.links.items()
        notes = [row.data for row in rows(am_container, TimelineRow, kind="note")]
        assert any(data.get("auto_resolve_paused") for data in notes) is expect.paused
        kinds = [row.kind for row in rows(am_container, TimelineRow)]
        if expect.paused:
            assert "alerts_all_resolved" not in kinds
    notices = rows(am_container, OutboxRow, target="chat", operation="notice")
    assert len(notices) == expect.notices
