"""Each benchmark script, run as a user runs it with tiny parameters: its output parses and
its correctness figures hold (exactly one incident per group, nothing lost, every command
landed). Speed is not asserted here: the numbers are in docs/development.md, measured on purpose.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from typing import Any

import pytest

from tests.support.processes import ROOT


def run_bench(module: str, *args: str, timeout: float = 120) -> str:
    done = subprocess.run(
        [sys.executable, "-m", module, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def number(pattern: str, text: str) -> float:
    found = re.search(pattern, text)
    assert found, f"{pattern!r} not in output:\n{text}"
    return float(found.group(1))


def test_ingest_bench_stores_every_accepted_alert(db_backend: str) -> None:
    output = run_bench(
        "bench.ingest_bench", "--requests", "40", "--concurrency", "4", "--rate", "20", "--duration", "1",
        "--databases", "postgres" if db_backend == "postgres" else "sqlite",
    )
    assert number(r"ratio firebreak/reference throughput: ([\d.]+)", output) > 0
    assert number(r"firebreak p99 at 20 req/s: ([\d.]+) ms", output) > 0
    assert "all firebreak answers 2xx: True" in output
    assert "firebreak  applied:    all 40 applied" in output
    stored = re.search(r"firebreak alerts stored: (\d+) of (\d+) answered 2xx; lost: (-?\d+)", output)
    assert stored, output
    assert stored.group(1) == stored.group(2) == str((40 + 20) * 10) and stored.group(3) == "0"
    assert number(r"firebreak incidents: (\d+) \(groups", output) == 40 + 20


def test_storm_bench_opens_one_incident_per_group_and_loses_nothing(db_url: str) -> None:
    output = run_bench(
        "bench.storm_bench", "--groups", "4", "--alerts", "80", "--seconds", "1", "--webhooks", "2",
        "--rate-limit-scale", "60", "--timeout", "60", "--database-url", db_url,
    )
    assert number(r"incidents created: (\d+)", output) == 4
    assert re.search(r"alerts stored: 80 of 80 sent; lost: 0\b", output), output
    assert "outbox drained: True" in output
    assert number(r"channels ready: (\d+)", output) == 4
    assert number(r"all ready after ([\d.]+) s", output) > 0
    assert number(r"slack calls: (\d+)", output) >= number(r"set-up calls: (\d+)", output) > 0
    assert number(r"= ([\d.]+) per alert", output) >= 0
    assert number(r"429s served: (\d+)", output) >= 0
    assert number(r"peak RSS \(VmHWM\): (\d+) MiB", output) > 0


@pytest.mark.parametrize("commands", [8])
def test_slash_bench_acknowledges_and_lands_every_command(db_url: str, commands: int) -> None:
    output = run_bench("bench.slash_bench", "--commands", str(commands), "--rate-limit-scale", "60", "--database-url", db_url)
    assert re.search(rf"{commands} /incident note, {commands} at once; statuses \{{200: {commands}\}}; transport errors 0", output), output
    assert number(r"p50 ([\d.]+) ms", output) <= number(r"p99 ([\d.]+) ms", output)
    assert f"notes on the timeline: {commands} of {commands}; all landed: True" in output
    assert f"replies through response_url: {commands} of {commands}" in output


def storm(db_backend: str, *args: str) -> tuple[int, dict[str, Any], str]:
    """bench.storm, tiny: (exit status, its JSON, its table)."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.storm", "--db", db_backend, "--json", "--groups", "6", "--alerts", "12",
         "--clusters", "2", "--seconds", "1", "--rate-limit-scale", "60", "--before-seconds", "4", "--timeout", "120", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=400,
    )
    assert done.returncode in (0, 1), done.stderr[-3000:]
    return done.returncode, json.loads(done.stdout), done.stderr


def test_storm_correlates_a_storm_into_one_incident_per_cluster_and_guards_it(db_backend: str) -> None:
    status, output, table = storm(db_backend, "--scenario", "A", "B", "C", "--storm-threshold", "2")
    a, b, c = output["results"]
    assert a["incidents"] == 2 and a["alerts_sent"] == a["alerts_stored"] == 12 and a["alerts_lost"] == 0
    assert a["all_ready_s"] is not None and a["outbox_empty_s"] is not None
    assert a["groups_by_joined_by"] == {"opened": 2, "correlated": 4}
    assert b["storm_incidents"] == 1 and b["alerts_lost"] == 0 and b["alerts_sent"] == 12 + 2
    assert b["channels_created"] <= 2 + 1 + 1 and b["p0_first_post_s"] is not None
    # two opened, the storm, the P0 beside it; the P0 jumps the inbox queue, so it may be
    # applied before the threshold is reached and be one of the two the guard lets open
    assert b["incidents"] in (2 + 1 + 1, 1 + 1 + 1)
    assert b["groups_by_joined_by"]["opened"] + b["groups_by_joined_by"]["storm"] == 6 + 1
    assert c["incidents"] == 6 + 1 and c["storm_incidents"] == 0 and c["alerts_lost"] == 0
    assert c["outbox_empty_s"] is None and c["elapsed_s"] >= 4  # C is bounded, never waits for the outbox
    assert c["projected_empty_s"] is not None and c["projected_empty_s"] >= c["elapsed_s"]
    assert "| figure" in table and "Slack calls per alert" in table and "server peak RSS" in table
    assert status == (0 if all(met for r in (a, b) for _goal, met in r["goals"]) else 1)


def test_storm_bench_fails_when_a_goal_is_missed(db_backend: str) -> None:
    """Guard off while scenario B expects it: every group critical opens its own channel."""
    status, output, table = storm(db_backend, "--scenario", "B", "--storm-threshold", "0", "--critical-every", "1")
    (b,) = output["results"]
    assert b["channels_created"] == 6 + 1 and b["alerts_lost"] == 0
    assert ["channels ≤ threshold + 1 + P0 = 2", False] in b["goals"]
    assert status == 1
    assert "goal B" in table and "MISSED" in table and "channels created" in table


@pytest.mark.timeout(300)  # two processes (three with the reference) to boot on a busy machine
@pytest.mark.parametrize("mode", ["split", "serve"])
def test_e2e_bench_counts_webhooks_answered_and_applied(db_backend: str, mode: str) -> None:
    if mode == "split" and db_backend != "postgres":
        pytest.skip("firebreak web + firebreak worker run on PostgreSQL only (run with --db=postgres)")
    name = mode if mode == "split" else f"serve-{db_backend}"
    output = run_bench(
        "bench.e2e_bench", "--modes", name, "--gate", "", "--runs", "1", "--requests", "20", "--concurrency", "4",
        "--rate", "20", "--duration", "1", "--warmup", "5", timeout=280,
    )
    row = re.search(rf"^\| {name} \| (\d+) webhooks/s \| (\d+)/s \| ([\d.]+) \|.*\| \d+ \| (\d+) \| (met|missed) \(not gated\) \|$", output, re.M)
    assert row, output
    assert int(row.group(1)) > 0 and int(row.group(2)) > 0 and float(row.group(3)) > 0
    assert row.group(4) == "0", output  # lost: every webhook answered 2xx was applied
    assert number(r"p99 ([\d.]+) ms", output) >= number(r"p50 ([\d.]+) ms", output) > 0
    assert "nothing lost (every webhook answered 2xx was applied): True" in output


@pytest.mark.timeout(300)  # a web and up to two workers to boot, per round, on a busy machine
def test_workers_bench_drains_every_backlog_and_stores_every_alert(db_backend: str) -> None:
    if db_backend != "postgres":
        pytest.skip("firebreak worker runs on PostgreSQL only (run with --db=postgres)")
    output = run_bench("bench.workers_bench", "--requests", "30", "--workers", "1,2", "--rounds", "1", "--warmup", "30", timeout=280)
    for count in (1, 2):
        assert re.search(rf"round 1, {count} worker\(s\): 30 webhooks in [\d.]+ s = \d+/s; alerts stored 300\b", output), output
        assert number(rf"{count} worker\(s\): median (\d+) webhooks/s applied", output) > 0
    assert "MISSING" not in output


def test_resend_bench_adds_nothing_to_any_timeline(db_url: str) -> None:
    output = run_bench("bench.resend_bench", "--alerts", "20", "--groups", "2", "--resends", "2", "--database-url", db_url)
    assert "2 groups of 20 alerts, each re-sent unchanged 2 times" in output
    assert number(r"worker CPU per re-sent webhook: ([\d.]+) ms", output) > 0
    assert "timeline entries added by re-sends: 0" in output
