from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from bot.playbooks import Playbook, import_runbook, import_text, lint_directory
from bot.playbooks.importer import dump_playbook, write_playbooks

FIXTURES = Path(__file__).parent / "fixtures"


def count_headings(text: str) -> int:
    """Headings as markdown sees them (a ``# comment`` in a code block is not one)."""
    return sum(token.type == "heading_open" for token in MarkdownIt("commonmark").parse(text))


def by_id(playbooks: list[Playbook]) -> dict[str, Playbook]:
    return {p.id: p for p in playbooks}


def test_headings_style_incident() -> None:
    result = import_runbook(FIXTURES / "headings.md")
    [playbook] = result.playbooks
    assert playbook.id == "queue-backlog"
    assert playbook.match.alertname == ["QueueBacklogHigh"]
    assert playbook.match.title_keywords == ["queue backlog"]
    assert [(p.kind, p.title) for p in playbook.phases] == [
        ("symptoms", "Symptoms"), ("diagnosis", "Investigation"), ("resolution", "Actions"),
        ("verification", "Verification"), ("prevention", "Prevention"),
    ]
    diagnosis = playbook.phases[1].steps
    assert diagnosis[0].text == "Check the consumer group lag"
    assert diagnosis[0].commands == ["kafka-consumer-groups --describe --group payments"]
    # nested bullets under a step with text stay part of that step
    assert diagnosis[1].text == "Look at consumer logs\n- errors mentioning `timeout`\n- restarts in the last hour"
    resolution = playbook.phases[2].steps
    # a label-only item ("**Immediate**:") spreads over its nested items
    assert [s.text for s in resolution[:2]] == ["Immediate: Scale the consumers", "Immediate: Pause the producer"]
    # an escalation sentence inside a step becomes the step's deadline
    restart = resolution[2]
    assert (restart.deadline, restart.on_deadline, restart.escalate_to) == ("10m", "escalate", "L1")
    level = playbook.escalation.levels[0]
    assert (level.name, level.delay, level.condition) == ("L1", "10m", "unresolved")
    assert [(t.kind, t.value) for t in level.targets] == [("slack_user", "@dana")]


def test_bold_label_style_with_comment_steps() -> None:
    result = import_runbook(FIXTURES / "bold_labels.md")
    [playbook] = result.playbooks
    assert playbook.id == "checkout-errors"
    assert playbook.title == "Checkout Errors"
    assert [(p.kind, p.title) for p in playbook.phases] == [
        ("symptoms", "Symptoms"), ("diagnosis", "Diagnosis"), ("diagnosis", "Common Causes"), ("resolution", "Resolution"),
    ]
    diagnosis = playbook.phases[1].steps
    assert [(s.text, s.commands) for s in diagnosis] == [
        ("Check recent errors", ["kubectl logs deploy/checkout | grep ERROR"]),
        ("Check the payment provider", ["curl -s https://status.example.com/api"]),
    ]
    assert [s.text for s in playbook.phases[2].steps] == ["Provider outage", "Expired API key"]
    resolution = playbook.phases[3].steps
    assert resolution[0].text == "Restart checkout"  # "# 1." numbering removed
    assert resolution[0].commands == ["kubectl rollout restart deploy/checkout"]
    # consecutive comments form one step; a backslash continuation stays one command
    assert resolution[1].text == "Verify health — Wait for ready pods"
    assert resolution[1].commands == ["kubectl rollout status deploy/checkout \\\n  --timeout=120s"]
    [level] = playbook.escalation.levels
    assert (level.delay, level.condition) == ("15m", "unresolved")
    assert [(t.kind, t.value) for t in level.targets] == [("who", "payments on-call"), ("slack_user", "@erin")]
    assert "checkout error rate > 3%" in playbook.match.title_keywords
    assert "Orders are queued while checkout is down." in playbook.notes
    assert [(n.playbook_id, n.line) for n in result.report.notes] == [("checkout-errors", 35)]


def test_tables_severity_escalation_and_unplaced_content() -> None:
    result = import_runbook(FIXTURES / "tables.md")
    playbooks = by_id(result.playbooks)
    assert set(playbooks) == {"cache-unavailable", "tables-reference"}
    cache = playbooks["cache-unavailable"]
    assert cache.match.title_keywords == ["cache unavailable"]
    assert [s.text for s in cache.phases[0].steps] == ["Check the cache pods", "Restart the cache"]
    # file-wide escalation matrix applies to incident playbooks; the "0 min" row is whom the
    # page itself reaches, never a level that fires at once
    assert [(level.name, level.delay, level.targets[0].value) for level in cache.escalation.levels] == [
        ("L2", "10m", "Team lead"), ("L3", "30m", "Head of engineering"),
    ]
    assert "First responder (paged at once): Primary on-call." in cache.description
    assert [(d.level, d.name, d.description) for d in cache.severity_definitions] == [
        ("P0", "Critical", "Everything is down"), ("P1", "High", "A major feature is broken"),
    ]
    reference = playbooks["tables-reference"]
    assert reference.manual and not reference.phases
    assert "We moved to this cluster in 2023." in reference.notes
    assert "> Ask the platform team before changing node pools." in reference.notes
    assert "Owned by the platform team." in reference.notes
    outcomes = {s.title: s.outcome for s in result.report.sections}
    assert outcomes["Severity Levels"] == "severity definitions"
    assert outcomes["Escalation Matrix"] == "file-wide escalation policy"
    assert outcomes["History"] == "notes of the reference playbook"


def test_procedures_and_escalation_path_list() -> None:
    result = import_runbook(FIXTURES / "procedures.md")
    playbooks = by_id(result.playbooks)
    assert set(playbooks) == {"deploy-to-production", "rollback", "pre-release-checklist", "procedures-reference"}
    deploy = playbooks["deploy-to-production"]
    assert deploy.manual and deploy.match.is_empty and not deploy.is_fallback
    assert deploy.escalation is None
    assert [(s.text, s.commands) for s in deploy.phases[0].steps] == [
        ("Run migrations", ["./scripts/migrate.sh production"]),
        ("Roll out", ["kubectl set image deployment/web web=registry/web:v2", "kubectl rollout status deployment/web"]),
    ]
    assert deploy.phases[0].kind == "procedure"
    rollback = playbooks["rollback"]
    assert [(s.text, s.commands) for s in rollback.phases[0].steps] == [
        ("Kubernetes", ["kubectl rollout undo deployment/web"]), ("Docker", ["docker run -d registry/web:v1"]),
    ]
    assert [s.text for s in playbooks["pre-release-checklist"].phases[0].steps] == ["Tests green", "Changelog written"]
    assert '{"status": "ok"}' in playbooks["procedures-reference"].notes


def test_escalation_path_with_windows() -> None:
    text = (FIXTURES / "procedures.md").read_text() + "\n## Disk Full Issues\n\n1. Free space\n"
    result = import_text(text, "procedures.md")
    disk = by_id(result.playbooks)["disk-full-issues"]
    assert [(level.name, level.delay, level.targets[0].value) for level in disk.escalation.levels] == [
        ("L2", "5m", "senior engineer"), ("L3", "20m", "engineering manager"),
    ]
    assert "First responder (paged at once): On-call engineer." in disk.description
    assert disk.match.title_keywords == ["disk full issues", "disk full"]


def test_accented_headings_keep_their_letters_in_ids() -> None:
    text = "# Exploitation\n\n## Dépôt Git indisponible\n\n1. Vérifier le miroir\n\n## Straße gesperrt\n\n1. Umleiten\n"
    ids = set(by_id(import_text(text, "ops.md").playbooks))
    assert {"depot-git-indisponible", "strae-gesperrt"} <= ids, ids


def test_slack_markup_copied_into_a_runbook_names_its_targets() -> None:
    """``<!subteam^S…>`` holds a ``!``: it was read as the end of the sentence (target ``<``)."""
    text = (
        "# Ops\n\n## API Down\n\n1. Check pods\n2. Escalate to <!subteam^S0DBA|dba> after 10 minutes\n\n"
        "## Escalation\n\n1. **Level 1**: <@U0BOB|bob> after 5 minutes\n2. **Level 2**: <#C0OPS|ops> and @SRE after 15 minutes\n"
    )
    api = by_id(import_text(text, "ops.md").playbooks)["api-down"]
    assert [[(t.kind, t.value) for t in level.targets] for level in api.escalation.levels] == [[("slack_group", "S0DBA")]]
    policy = by_id(import_text(text.replace("2. Escalate to <!subteam^S0DBA|dba> after 10 minutes\n", ""), "ops.md").playbooks)["api-down"]
    assert [[(t.kind, t.value) for t in level.targets] for level in policy.escalation.levels] == [
        [("slack_user", "@U0BOB")], [("slack_channel", "#C0OPS"), ("slack_user", "@SRE")],
    ]


@pytest.mark.parametrize(
    ("who", "targets"),
    [
        ("<!subteam^S0DBA|@dba>", [("slack_group", "S0DBA")]),  # Slack's own form: markdown reads it as an e-mail link
        ("<@U0BOB|x> <!here>", [("slack_user", "@U0BOB")]),
        ("<!channel> and @bob", [("slack_user", "@bob")]),
    ],
)
def test_slack_broadcasts_in_a_runbook_are_never_targets(who: str, targets: list[tuple[str, str]]) -> None:
    text = f"# Ops\n\n## API Down\n\n1. Check pods\n\n## Escalation\n\n1. **Level 1**: {who} after 5 minutes\n"
    api = by_id(import_text(text, "ops.md").playbooks)["api-down"]
    assert [[(t.kind, t.value) for t in level.targets] for level in api.escalation.levels] == [targets]


def test_a_level_naming_only_a_broadcast_goes_to_the_notes() -> None:
    text = "# Ops\n\n## API Down\n\n1. Check pods\n\n## Escalation\n\n1. **Level 1**: <!here> after 5 minutes\n"
    result = import_text(text, "ops.md")
    assert by_id(result.playbooks)["api-down"].escalation is None
    assert [note.reason for note in result.report.notes] == ["escalation list item without level/who"]


def test_missing_delays_are_assumed_and_reported() -> None:
    text = "# Ops\n\n## Escalation\n\n1. **Level 1**: On-call engineer\n2. **Level 2**: Team lead\n\n## Troubleshooting\n\n### API Down\n\n1. Check pods\n"
    result = import_text(text, "ops.md")
    api = by_id(result.playbooks)["api-down"]
    assert [(level.name, level.delay) for level in api.escalation.levels] == [("L1", "15m"), ("L2", "30m")]
    assert any("assumed 15m" in a for a in result.report.assumptions)


def test_every_heading_is_accounted_for() -> None:
    for name in ("headings.md", "bold_labels.md", "tables.md", "procedures.md"):
        text = (FIXTURES / name).read_text()
        headings = count_headings(text)
        result = import_text(text, name)
        assert len(result.report.sections) == headings, name
        assert all(s.outcome for s in result.report.sections)


def test_ids_avoid_existing_ones() -> None:
    result = import_runbook(FIXTURES / "procedures.md", existing_ids={"rollback", "procedures-reference"})
    ids = {p.id for p in result.playbooks}
    assert "deployment-rollback" in ids and "procedures-reference-2" in ids and "rollback" not in ids


def test_written_files_round_trip_and_lint(tmp_path: Path) -> None:
    for name in ("headings.md", "bold_labels.md", "tables.md", "procedures.md"):
        result = import_runbook(FIXTURES / name, existing_ids={p.stem for p in tmp_path.glob("*.yaml")})
        written = write_playbooks(result.playbooks, tmp_path)
        for playbook, path in zip(result.playbooks, written, strict=False):
            import yaml

            loaded = Playbook.model_validate(yaml.safe_load(path.read_text()))
            assert loaded.imported is not None and len(loaded.imported.content_hash) == 64
            assert loaded.model_copy(update={"imported": playbook.imported}) == playbook
    assert lint_directory(tmp_path) == []


def test_report_format_names_playbooks_and_notes() -> None:
    text = import_runbook(FIXTURES / "bold_labels.md").report.format()
    assert text.splitlines()[0] == "Imported bold_labels.md: 1 playbook(s)"
    assert "checkout-errors [incident] 4 phase(s), 8 step(s), 1 escalation level(s), 1 note(s)" in text
    assert "line 35: Note -> checkout-errors: Note note" in text


def test_dump_uses_block_style_for_multiline() -> None:
    [playbook] = import_runbook(FIXTURES / "headings.md").playbooks
    assert "text: |-\n" in dump_playbook(playbook)


def test_a_heading_longer_than_a_phase_title_may_be_is_cut() -> None:
    """A phase title is stored in 200 characters: the importer cuts a longer sub-heading
    rather than write a playbook that lint (and a server) would refuse."""
    long_heading = "Check " + "the replica lag on every node " * 12
    result = import_text(f"# Replica lag\n\n**Fires as:** `ReplicaLagHigh`\n\n## {long_heading}\n\n1. Run `pg_stat_replication`\n2. Compare\n")
    [playbook] = result.playbooks
    [title] = [phase.title for phase in playbook.phases if phase.title and phase.title.startswith("Check")]
    assert len(title) == 200 and title.endswith("…") and long_heading.startswith(title[:-1])


def test_a_runbook_waiting_longer_than_a_playbook_may_imports_with_the_longest_delay() -> None:
    """Playbook delays and deadlines are at most 30 days; a runbook's ``within 99999 days``
    becomes 30 days instead of stopping the import."""
    result = import_text(
        "# DB down\n\n**Fires as:** `DbDown`\n\n## 1. Fix it\n\n"
        "Restart the database. Escalate to the DBA team if not resolved within 99999 days.\n"
    )
    [playbook] = result.playbooks
    assert [step.deadline for phase in playbook.phases for step in phase.steps] == ["30d"]
    assert playbook.escalation is not None and [level.delay for level in playbook.escalation.levels] == ["30d"]
