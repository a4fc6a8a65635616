"""Time ``firebreak drill run --check`` on a long scenario.

    python -m bench.drill_bench                        # 2 h, 50 alert events, 20 responses
    python -m bench.drill_bench --hours 4 --events 100 --responses 40 --runs 3

Writes a scenario spanning ``--hours`` of incident time: ``--events`` Alertmanager
notifications over 10 alert groups (firing, re-sent with more alerts, resolved), and
``--responses`` scripted commands (acknowledge, notes, steps, mitigate, resolve), with the
starter playbooks. Then runs the real command in a fresh process, as CI would, and prints
the wall-clock time of the whole command and per simulated hour (goal: under 10 s), and
its CPU time (on a busy machine the wall clock mostly measures the other work).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
GROUPS = 10


def scenario(hours: float, events: int, responses: int) -> dict[str, Any]:
    """Alert events spread over the span; responses acting on the first incident, then the others."""
    span = int(hours * 3600)
    timed: list[dict[str, Any]] = []
    for index in range(events):
        group = index % GROUPS
        rounds = max(1, events // GROUPS)
        round_ = index // GROUPS
        at = int(span * 0.9 * index / max(1, events - 1))
        resolved = round_ == rounds - 1 and round_ > 0
        labels = {"alertname": f"BenchAlert{group}", "service": f"svc{group}", "severity": "critical" if group < 3 else "warning"}
        alerts = [
            {
                "status": "resolved" if resolved else "firing",
                "labels": {**labels, "instance": f"i{n}"},
                "annotations": {"summary": f"bench alert {group}"},
            }
            for n in range(1 + min(round_, 3))
        ]
        timed.append({"at": f"{at}s", "alertmanager": {"alerts": alerts, "source": "bench"}})
    verbs = ["ack", "note looking at it", "step done 1", "step skip 2", "mitigate", "resolve"]
    replies: list[dict[str, Any]] = []
    for index in range(responses):
        at = 60 + int(span * 0.9 * index / max(1, responses))
        incident = 1 + (index // len(verbs)) % 3
        replies.append(
            {
                "at": f"{at}s",
                "user": f"responder{index % 4}",
                "command": f"/incident {verbs[index % len(verbs)]}",
                "incident": incident,
            }
        )
    return {
        "name": "bench-two-hours",
        "duration": f"{span}s",
        "events": timed,
        "responses": replies,
        "expect": {"incidents": GROUPS, "acknowledged_within": "5m"},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hours", type=float, default=2.0)
    parser.add_argument("--events", type=int, default=50)
    parser.add_argument("--responses", type=int, default=20)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--database-url", default=None, help="run on this database instead of a throw-away SQLite file")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="drill-bench-") as folder:
        path = Path(folder) / "bench.yaml"
        path.write_text(yaml.safe_dump(scenario(args.hours, args.events, args.responses), sort_keys=False), encoding="utf-8")
        command = [
            sys.executable,
            "-m",
            "bot",
            "drill",
            "run",
            "--check",
            "--playbooks",
            str(ROOT / "playbooks"),
            "--report-dir",
            folder,
            str(path),
        ]
        if args.database_url:
            command += ["--database-url", args.database_url]
        env = {**os.environ, "PYTHONPATH": str(ROOT), "FIREBREAK_LOG_FORMAT": "console"}
        times, cpu = [], []
        for _ in range(args.runs):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            started = time.perf_counter()
            done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=folder, check=False)
            times.append(time.perf_counter() - started)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
            if done.returncode != 0:
                print(done.stdout + done.stderr, file=sys.stderr)
                return 1
        print(done.stdout.strip())
    best, median = min(times), statistics.median(times)
    print(f"scenario: {args.hours:g} h of incident time, {args.events} alert events, {args.responses} responses")
    print(f"firebreak drill run --check: median {median:.2f} s, best {best:.2f} s over {args.runs} runs (goal < 10 s)")
    print(f"per simulated hour: {median / args.hours:.2f} s")
    print(f"CPU time of the command: median {statistics.median(cpu):.2f} s; load average {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
