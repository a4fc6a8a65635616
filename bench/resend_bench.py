"""What a re-sent alert group costs the worker: Alertmanager's everyday traffic.

Alertmanager sends a group's whole alert list again every ``group_interval`` while anything
in it changes, and every ``repeat_interval`` while it fires; most webhooks a busy Firebreak
applies change nothing. This bench opens ``--groups`` incidents of ``--alerts`` alerts each,
then re-sends every group unchanged ``--resends`` times through the webhook endpoint and the
worker's ingester (in this process), and prints the ingester's CPU time per re-sent webhook
(``time.process_time``: the load of the machine moves it little) and checks that nothing
was added to any timeline (a re-send is not news).

    python -m bench.resend_bench [--alerts 300] [--groups 4] [--resends 10] [--database-url URL]

Without ``--database-url`` it uses a scratch database on the PostgreSQL at 127.0.0.1:5432.
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from contextlib import AbstractContextManager, nullcontext

from sqlalchemy import create_engine, func, select
from starlette.testclient import TestClient

from bench.scratch_db import scratch_postgres
from bot.container import build_container
from bot.roles import Role
from bot.settings import Settings
from bot.store.migrate import upgrade
from bot.store.models import TimelineRow
from bot.web import create_app
from tests.fakes.alertmanager_payloads import firing_group

TOKEN = "resend-bench-token"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--alerts", type=int, default=300)
    parser.add_argument("--groups", type=int, default=4)
    parser.add_argument("--resends", type=int, default=10)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    database: AbstractContextManager[str] = nullcontext(args.database_url) if args.database_url else scratch_postgres("firebreak_resend")
    with database as url:
        engine = create_engine(url)
        upgrade(engine)
        settings = Settings(_env_file=None, DATABASE_URL=url, ALERTMANAGER_TOKEN=TOKEN, FIREBREAK_STORM_THRESHOLD=0)  # type: ignore[call-arg]
        container = build_container(settings, transcript_stream=io.StringIO(), engine=engine, roles=frozenset({Role.WORKER}))
        groups = [firing_group(f"ResendBench{index}", count=args.alerts) for index in range(args.groups)]
        headers = {"Authorization": f"Bearer {TOKEN}"}
        try:
            with TestClient(create_app(container, migrate=False, run_worker=False)) as http:

                def send_all() -> None:
                    for group in groups:
                        assert http.post("/webhooks/alertmanager", json=group, headers=headers).status_code == 202

                send_all()
                container.ingester.apply_all()
                with container.sessions() as session:
                    entries_before = session.scalar(select(func.count()).select_from(TimelineRow))
                spent = 0.0
                for _ in range(args.resends):
                    send_all()
                    started = time.process_time()
                    container.ingester.apply_all()
                    spent += time.process_time() - started
                with container.sessions() as session:
                    entries_after = session.scalar(select(func.count()).select_from(TimelineRow))
        finally:
            container.close()
            engine.dispose()
    webhooks = args.groups * args.resends
    print(f"{args.groups} groups of {args.alerts} alerts, each re-sent unchanged {args.resends} times ({engine.dialect.name})")
    print(f"worker CPU per re-sent webhook: {1000 * spent / webhooks:.2f} ms ({1000 * spent / (webhooks * args.alerts):.3f} ms per alert)")
    print(f"timeline entries added by re-sends: {entries_after - entries_before}")
    return 0 if entries_after == entries_before else 1


if __name__ == "__main__":
    sys.exit(main())
