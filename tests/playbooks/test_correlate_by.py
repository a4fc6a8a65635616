"""``correlate_by`` in playbooks: schema, lint, and which playbook a group's labels pick."""

from __future__ import annotations

from pathlib import Path

from bot.ingest.alertmanager.grouping import Grouping
from bot.playbooks import lint_directory, load_directory
from bot.playbooks.matching import IncidentFacts
from bot.playbooks.registry import PlaybookRegistry

BODY = """\
id: {id}
title: {id}
{extra}
phases:
  - kind: diagnosis
    steps:
      - text: look
"""


def write(directory: Path, name: str, extra: str) -> None:
    (directory / f"{name}.yaml").write_text(BODY.format(id=name, extra=extra))


def test_correlate_by_is_a_list_of_label_names(tmp_path: Path) -> None:
    write(tmp_path, "disk", "match: {alertname: DiskFull}\ncorrelate_by: [node, node, cluster]")
    write(tmp_path, "single", "match: {alertname: Other}\ncorrelate_by: node")
    write(tmp_path, "none", "match: {alertname: Noisy}\ncorrelate_by: []")
    write(tmp_path, "unset", "match: {alertname: Plain}")
    by_id = {playbook.id: playbook for playbook in load_directory(tmp_path)}
    assert by_id["disk"].correlate_by == ["node", "cluster"]
    assert by_id["single"].correlate_by == ["node"]
    assert by_id["none"].correlate_by == []
    assert by_id["unset"].correlate_by is None


def test_lint_refuses_bad_names_and_warns_where_it_cannot_apply(tmp_path: Path) -> None:
    write(tmp_path, "bad", "match: {alertname: X}\ncorrelate_by: [cluster, 'not-a-label']")
    write(tmp_path, "manual", "manual: true\ncorrelate_by: [cluster]")
    write(tmp_path, "paged", "match: {pagerduty_service: PSVC}\ncorrelate_by: [cluster]")
    problems = {Path(problem.path).name: problem for problem in lint_directory(tmp_path)}
    assert "'not-a-label' is not a label name" in problems["bad.yaml"].message and not problems["bad.yaml"].warning
    assert problems["manual.yaml"].warning and "never matched" in problems["manual.yaml"].message
    assert problems["paged.yaml"].warning and "PagerDuty" in problems["paged.yaml"].message


def test_the_playbook_a_group_matches_decides_its_labels(tmp_path: Path) -> None:
    write(tmp_path, "disk", "match: {alertname: DiskFull}\ncorrelate_by: [node]")
    write(tmp_path, "noisy", "match: {alertname: Noisy}\ncorrelate_by: []")
    write(tmp_path, "plain", "match: {alertname: Plain}")
    registry = PlaybookRegistry.of(load_directory(tmp_path))

    def lookup(facts: IncidentFacts) -> tuple[str, ...] | None:
        playbook, _ = registry.match(facts)
        return None if playbook is None or playbook.correlate_by is None else tuple(playbook.correlate_by)

    grouping = Grouping(correlate_by=("cluster",), playbook_correlate_by=lookup)
    assert grouping.names_for(IncidentFacts(alertname="DiskFull")) == ("node",)
    assert grouping.names_for(IncidentFacts(alertname="Noisy")) == ()
    assert grouping.names_for(IncidentFacts(alertname="Plain")) == ("cluster",)
    assert grouping.names_for(IncidentFacts(alertname="Unknown")) == ("cluster",)
