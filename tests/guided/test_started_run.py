"""The guide of a playbook started in this transaction is read from memory; never a run
started in an earlier transaction of the same session, which may have been replaced since
(sessions keep their objects across commits: ``expire_on_commit=False``)."""

from __future__ import annotations

from bot.container import Container
from bot.domain.severity import Severity
from bot.domain.timeline import Source
from bot.store.incidents import IncidentRepository
from tests.guided.conftest import guided_of


def test_a_run_replaced_after_the_transaction_that_started_it_is_not_shown(timed: Container) -> None:
    guided = guided_of(timed)
    labels = {"alertname": "HighErrorRate", "service": "checkout"}
    with timed.sessions() as session:
        with session.begin():
            incident = timed.service.declare(title="t", severity=Severity.P1, actor="a", source=Source.CONSOLE, labels=labels, session=session)
        assert incident.playbook_id == "checkout-errors"
        # Someone replaces the playbook, in a transaction of their own.
        guided.run(incident.number, "default", actor="alice", source=Source.CONSOLE)
        with session.begin():
            view = guided.view_in(session, IncidentRepository.get(session, incident.number))
    assert view is not None and view.playbook_id == "default"
    assert guided.view(incident.number).playbook_id == "default"
