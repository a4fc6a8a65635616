"""Runbooks in the house styles teams already have: each point of importing them, on small
runbooks written for these tests."""

from __future__ import annotations

from bot.domain.severity import DEFAULT_LABEL_MAPPING, Severity
from bot.playbooks import Playbook, import_text


def only(playbooks: list[Playbook]) -> Playbook:
    real = [p for p in playbooks if p.phases]
    assert len(real) == 1, [p.id for p in playbooks]
    return real[0]


PER_ALERT = """---
title: kafkaBrokerOffline
owner: streaming-team
tags: [kafka, brokers]
---

# kafkaBrokerOffline

## Meaning

A Kafka broker left the cluster more than five minutes ago.

**Severity:** Critical

## Impact

Partitions led by the broker move to other brokers; under-replicated partitions pile up.

## Diagnosis

### CLI checks

```console
$ oc get pods -n kafka -l app=broker
NAME       READY   STATUS
broker-0   1/1     Running
```

### PromQL queries

```
kafka_server_replicamanager_underreplicatedpartitions > 0
```

## Mitigation

### Restart the broker

Delete the pod; the StatefulSet starts a new one: `oc delete pod broker-2 -n kafka`

### Rebalance

```
/opt/kafka $ bin/kafka-reassign-partitions.sh --execute --reassignment-json-file plan.json
```
"""


def test_point1_alert_names_however_written() -> None:
    cases = {
        "# billing\n\n##### Alert Name: \"InvoiceQueueStalled\"\n\nSeverity: Warning\n\n1. Check the queue\n": ["InvoiceQueueStalled"],
        "# Ledger lag\n\n**Fires as:** `LedgerConsumerLagHigh`\n\n## 1. Look\n\nRead the lag.\n\n## 2. Fix\n\nRestart.\n": ["LedgerConsumerLagHigh"],
        "# Certs\n\nAlert: CertManagerCertExpirySoon\n\n## Check\n\n1. `kubectl get certificate -A`\n": ["CertManagerCertExpirySoon"],
        "---\ntitle: ShardAllocationFailing\n---\n\n## Diagnosis\n\n1. List shards\n": ["ShardAllocationFailing"],
        "# Alert list\n\n## Alert\n\n### QueueDown\n\nRestart it.\n\n### Watchdog\n\nNever pages.\n": ["QueueDown", "Watchdog"],
    }
    for text, names in cases.items():
        result = import_text(text, "runbook.md")
        assert sorted(n for p in result.playbooks for n in p.match.alertname) == sorted(names), text
        assert all(not p.manual for p in result.playbooks if p.match.alertname)
        # a name is a match rule, not a title keyword
        assert not [k for p in result.playbooks for k in p.match.title_keywords if k.lower() in {n.lower() for n in names}]
    # the file name, lower-case first letter and all
    named = import_text("# members down\n\n## Diagnosis\n\n1. `etcdctl member list`\n", "alerts/etcdMemberLost.md")
    assert only(named.playbooks).match.alertname == ["etcdMemberLost"]


def test_point1_decoys_never_become_alert_names() -> None:
    texts = {
        "README.md": "# README\n\n## OpenShift\n\n- [etcdMembersDown](etcdMembersDown.md)\n\nRun `make docs`.\n",
        "_index.md": "---\ntitle: PostgreSQL\n---\n\n## Alerts\n\nEvery alert has its own page.\n",
        "PostgreSQL.md": "# PostgreSQL\n\n## OpenShift\n\n1. `oc rsh statefulset/postgres`\n",
        "OpenShift.md": "# OpenShift\n\n**Alert:** none yet\n\n## Diagnosis\n\n1. Check nodes\n",
    }
    for source, text in texts.items():
        result = import_text(text, source)
        assert [n for p in result.playbooks for n in p.match.alertname] == [], source
    index = import_text(texts["README.md"], "README.md")
    assert [p.id for p in index.playbooks] == ["readme-reference"]


def test_point2_runbook_rule_recorded_from_source_path() -> None:
    playbook = only(import_text(PER_ALERT, "runbooks/kafka/kafkaBrokerOffline.md").playbooks)
    assert playbook.match.runbook == ["runbooks/kafka/kafkaBrokerOffline.md"]
    assert playbook.imported is not None and playbook.imported.source == "runbooks/kafka/kafkaBrokerOffline.md"
    listed = import_text("# Alerts\n\n## Alerts\n\n### QueueDown\n\nRestart it.\n", "queues.md")
    assert [p.match.runbook for p in listed.playbooks if p.phases] == [["queues.md#queuedown"]]


def test_point3_one_runbook_one_playbook_with_grouped_steps() -> None:
    result = import_text(PER_ALERT, "kafkaBrokerOffline.md")
    playbook = only(result.playbooks)
    assert [p.id for p in result.playbooks] == ["kafka-broker-offline"]
    assert [(phase.kind, phase.title) for phase in playbook.phases] == [
        ("diagnosis", "CLI checks"), ("diagnosis", "PromQL queries"),
        ("resolution", "Restart the broker"), ("resolution", "Rebalance"),
    ]
    # Meaning and Impact are the description, not step 1
    assert playbook.description.startswith("A Kafka broker left the cluster")
    assert "under-replicated partitions pile up" in playbook.description
    assert not any("broker left" in step.text for _, _, step in playbook.steps())
    freeform = import_text(
        "# Ledger lag\n\nAlert: LedgerLagHigh\n\n## 1. Confirm\n\nLook at the dashboard.\n\n"
        "## 2. Decide\n\n### Case 1: consumers are up\n\nWait.\n\n### Case 2: consumers crash\n\n"
        "```\nkubectl rollout restart deploy/ledger\n```\n\n## 3. Verify\n\nLag goes down.\n",
        "ledger.md",
    )
    playbook = only(freeform.playbooks)
    assert [phase.title for phase in playbook.phases] == ["Confirm", "Case 1: consumers are up", "Case 2: consumers crash", "Verify"]
    assert [step.text for _, _, step in playbook.steps()][:2] == ["Look at the dashboard.", "Wait."]


def test_point4_front_matter_is_metadata() -> None:
    result = import_text(PER_ALERT, "kafkaBrokerOffline.md")
    playbook = only(result.playbooks)
    assert (playbook.title, playbook.owner, playbook.tags) == ("kafkaBrokerOffline", "streaming-team", ["kafka", "brokers"])
    assert not any("title" in outcome.title.lower() for outcome in result.report.sections)
    assert "owner" not in playbook.notes and not playbook.match.title_keywords
    # line numbers still point into the file (the Meaning heading is line 9)
    assert ("Meaning", 9) in [(s.title, s.line) for s in result.report.sections]
    handbook = only(import_text("---\ntitle: Queues are backing up\n---\n\nJobs wait.\n\n## Fix\n\n1. Scale workers\n", "q.md").playbooks)
    assert handbook.title == "Queues are backing up" and handbook.match.title_keywords == ["queues are backing up"]


def test_front_matter_that_would_expand_without_end_is_left_as_text() -> None:
    """A runbook's front matter is YAML written by anyone: an alias bomb in it is not built,
    and the runbook still imports (its front matter is then not metadata)."""
    bomb = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 10)}]\n" for n in range(1, 10)
    )
    text = "---\ntitle: Bomb\n" + bomb + "---\n\n# Queues are backing up\n\n## Fix\n\n1. Scale workers\n"
    playbook = only(import_text(text, "q.md").playbooks)
    assert playbook.title == "Queues are backing up" and playbook.owner is None


def test_front_matter_yaml_cannot_build_leaves_the_runbook_importable() -> None:
    for value in ("2024-02-30", "0x" + "f" * 4000):
        text = f"---\ntitle: Disk\nupdated: {value}\n---\n\n# Disk full\n\n## Fix\n\n1. Free space\n"
        assert only(import_text(text, "disk.md").playbooks).title == "Disk full"


def test_point5_severity_words_through_the_label_mapping() -> None:
    forms = {
        "**Severity:** Critical": Severity.P1, "Severity: Error": Severity.P2, "*Severity*: warning": Severity.P3,
        "Severity: SEV1": Severity.P1, "Severity: none": None,
    }
    for line, level in forms.items():
        text = f"# QueueStalledAlert\n\n{line}\n\n## Diagnosis\n\n1. Check\n"
        assert only(import_text(text, "q.md").playbooks).severity == level, line
    titled = import_text("# Backups missing — SEV2\n\nAlert: BackupMissing\n\n## Step 1\n\nLook.\n\n## Step 2\n\nRun.\n", "b.md")
    assert only(titled.playbooks).severity is Severity.P2 and only(titled.playbooks).title == "Backups missing"
    # configurable: the same mapping the alert labels use
    custom = {**DEFAULT_LABEL_MAPPING, "critical": Severity.P0}
    text = "# QueueStalledAlert\n\n**Severity:** Critical\n\n## Diagnosis\n\n1. Check\n"
    assert only(import_text(text, "q.md", severity_words=custom).playbooks).severity is Severity.P0
    # listed as warning and as critical: one playbook with the worst, the other noted
    twice = import_text(
        "# Catalogue\n\n##### Alert Name: \"DiskAlmostFull\"\n\nSeverity: Warning\n\n* Clean up\n\n"
        "##### Alert Name: \"DiskAlmostFull\"\n\nSeverity: Critical\n\n* Expand the disk\n", "c.md",
    )
    playbook = only(twice.playbooks)
    assert playbook.severity is Severity.P1 and playbook.match.alertname == ["DiskAlmostFull"]
    assert [s.text for _, _, s in playbook.steps()] == ["Clean up", "Expand the disk"]
    assert any("Warning (line 5), Critical (line 11); using the worst, P1" in a for a in twice.report.assumptions)


def test_point6_commands_in_any_dress() -> None:
    playbook = only(import_text(PER_ALERT, "kafkaBrokerOffline.md").playbooks)
    commands = [c for _, _, step in playbook.steps() for c in step.commands]
    assert commands == [
        "oc get pods -n kafka -l app=broker",  # output lines under the prompt are not commands
        "kafka_server_replicamanager_underreplicatedpartitions > 0",  # untagged block
        "oc delete pod broker-2 -n kafka",  # inline in prose
        "bin/kafka-reassign-partitions.sh --execute --reassignment-json-file plan.json",  # /opt/kafka $ prompt
    ]
    prose = only(import_text(
        "# BucketSyncLagging\n\n## Mitigation\n\nCopy with `gsutil -m rsync -r gs://a gs://b` or "
        "`azcopy sync ./a https://x.blob.core.windows.net/b`.\n\nThen tell the owners.\n", "s.md",
    ).playbooks)
    steps = [(s.text, s.commands) for _, _, s in prose.steps()]
    assert steps[0][1] == ["gsutil -m rsync -r gs://a gs://b", "azcopy sync ./a https://x.blob.core.windows.net/b"]
    assert steps[1] == ("Then tell the owners.", [])  # a prose-only paragraph is a step with its text


def test_point7_escalation_in_any_layout() -> None:
    table = only(import_text(
        "# Checkout down\n\nAlert: CheckoutDown\n\n## Mitigation\n\n1. Roll back\n\n## Escalation\n\n"
        "| When (after page) | Contact | How |\n|---|---|---|\n| Immediately | Checkout on-call | PagerDuty |\n"
        "| +10 min | Checkout lead | Phone |\n| +30 min | VP engineering | Phone |\n", "c.md",
    ).playbooks)
    assert table.escalation is not None
    assert [(lv.delay, [t.value for t in lv.targets]) for lv in table.escalation.levels] == [
        ("10m", ["Checkout lead"]), ("30m", ["VP engineering"]),
    ]
    assert "First responder (paged at once): Checkout on-call." in table.description
    sentence = only(import_text(
        "# CephPoolFull\n\n## Mitigation\n\nFree space. Escalate to the ODF team if the pool stays full.\n\n"
        "Escalate immediately to the DBA when writes fail within 5 minutes.\n", "p.md",
    ).playbooks)
    assert sentence.escalation is not None
    levels = [(lv.delay_seconds, [t.value for t in lv.targets]) for lv in sentence.escalation.levels]
    assert all(delay > 0 for delay, _ in levels)
    assert ["ODF team"] in [who for _, who in levels] and ["DBA"] in [who for _, who in levels]
    assert not [w for _, who in levels for w in who if w.lower().startswith("immediately")]


def test_point3_per_alert_layout_without_an_alert_name_is_still_one_playbook() -> None:
    text = PER_ALERT.split("---\n", 2)[2].replace("# kafkaBrokerOffline", "# Kafka broker offline")
    result = import_text(text, "kafka-broker.md")
    playbook = only(result.playbooks)
    assert [phase.title for phase in playbook.phases] == ["CLI checks", "PromQL queries", "Restart the broker", "Rebalance"]
    assert playbook.match.alertname == [] and playbook.match.runbook == ["kafka-broker.md"]
    assert playbook.match.title_keywords == ["kafka broker offline"]


def test_point5_severity_table_gives_the_worst_level_and_notes_the_others() -> None:
    text = (
        "# ReplicaLagGrowing\n\n## Severity\n\n| Condition | Severity |\n|---|---|\n"
        "| lag above 5 minutes | SEV3 |\n| lag above 30 minutes | SEV1 |\n\n## Mitigation\n\n1. Restart the replica\n"
    )
    result = import_text(text, "lag.md")
    assert only(result.playbooks).severity is Severity.P1
    assert any("SEV3 (line 3), SEV1 (line 3); using the worst, P1" in a for a in result.report.assumptions)


PROSE_PARTS = """# Node runbook

## Node not ready

### Check the kubelet

- `systemctl status kubelet`

### Look at the events

- `kubectl get events -A`

### Mitigation

Drain the node and wait for pods to reschedule.

### Background

Nodes report through the kubelet every ten seconds.

## Disk pressure

### Mitigation

- `kubectl delete pod -l app=scratch`
"""


def test_prose_only_part_of_an_incident_is_a_step_of_its_playbook() -> None:
    """A leaf ``### Mitigation`` of plain prose is what the responder does, not reference."""
    result = import_text(PROSE_PARTS, source="nodes.md")
    by_id = {p.id: p for p in result.playbooks}
    node = by_id["node-not-ready"]
    assert not node.manual
    assert "node not ready" in node.match.title_keywords
    assert [(ph.kind, [s.text for s in ph.steps]) for ph in node.phases] == [
        ("resolution", ["Drain the node and wait for pods to reschedule."])
    ]
    reference = "".join(p.notes for p in result.playbooks if p.id.endswith("-reference"))
    assert "Drain the node" not in reference
    # descriptive parts stay notes, as before
    assert "every ten seconds" in reference


SEVERITY_TABLES = """# Cluster alerts

| Alert | Severity |
|-------|----------|
| KubeNodeNotReady | warning |
| `KubeletDown` | critical |
| KubeNodeNotReady | critical |
| KubeSchedulerDown | SEV2 |
| QuotaAlmostFull | pager |

## Alerts

### KubeNodeNotReady

Drain the node and wait for pods to reschedule.

### KubeletDown

Restart the kubelet: `systemctl restart kubelet`

### KubeSchedulerDown

Check the scheduler pods: `kubectl -n kube-system get pods -l component=kube-scheduler`

### QuotaAlmostFull

Ask the namespace owner to clean up.

### EtcdHighFsync

Check the disk latency of the etcd members.

## Alert reference

| Alert name | Severity | Runbook |
|---|---|---|
| [EtcdHighFsync](https://runbooks.example.com/etcdhighfsync) | error | etcd |
"""


def test_per_alert_severity_tables_set_each_alerts_severity() -> None:
    words = {**DEFAULT_LABEL_MAPPING, "pager": Severity.P2}
    result = import_text(SEVERITY_TABLES, source="cluster.md", severity_words=words)
    severity = {p.match.alertname[0]: p.severity for p in result.playbooks if p.match.alertname}
    assert severity == {
        "KubeNodeNotReady": Severity.P1,  # listed as warning and as critical: the worst
        "KubeletDown": Severity.P1,
        "KubeSchedulerDown": Severity.P2,  # SEV2 -> P2
        "QuotaAlmostFull": Severity.P2,  # through the configured mapping
        "EtcdHighFsync": Severity.P2,  # error, from an "Alert name | Severity | Runbook" table
    }
    noted = [a for a in result.report.assumptions if a.startswith("kube-node-not-ready:")]
    assert len(noted) == 1 and "warning (line 5)" in noted[0] and "critical (line 7)" in noted[0]
    reasons = {n.reason for n in result.report.notes if n.playbook_id.endswith("-reference")}
    assert reasons == {"per-alert severity table: read into each listed alert's playbook"}


def test_severity_table_names_no_alert_of_its_own() -> None:
    """A row for an alert the runbook has no section for adds no playbook or alert name."""
    text = "# Alerts\n\n| Alert | Severity |\n|---|---|\n| DiskFull | critical |\n\n## Disk\n\nCheck `df -h` on the host.\n"
    result = import_text(text, source="disk.md")
    assert all("DiskFull" not in p.match.alertname for p in result.playbooks)
    assert all(p.severity is None for p in result.playbooks)


def test_prose_only_check_of_a_procedure_stays_a_manual_procedure() -> None:
    """``## Deploy / ### Verify`` prose is a step too, but of a procedure, never matched to alerts."""
    text = "# Ops\n\n## Deploy\n\n### Build\n\n- `make build`\n\n### Verify\n\nOpen the home page and check the version.\n"
    deploy = {p.id: p for p in import_text(text, source="ops.md").playbooks}["deploy"]
    assert deploy.manual and not deploy.match.title_keywords
    assert [(ph.kind, [s.text for s in ph.steps]) for ph in deploy.phases] == [
        ("verification", ["Open the home page and check the version."])
    ]


def test_an_alert_line_naming_a_condition_gives_no_alert_name() -> None:
    from bot.playbooks.importer.alertnames import names_in_statement

    assert names_in_statement("Alert: Node not ready") == []  # a phrase, not the alert "Node"
    assert names_in_statement("Alert: HighLatency (critical)") == ["HighLatency"]
    assert names_in_statement("Alert: Watchdog") == ["Watchdog"]
