"""Run the real Alertmanager binary on loopback for end-to-end webhook tests.

Payload builders can drift from what Alertmanager really sends (grouping, re-sends,
``send_resolved``, auth headers, retry on 5xx). This starts ``prometheus-alertmanager`` with a
webhook receiver pointing at the URL under test, short group timers, its own storage dir and
clustering off, posts alerts through its API v2, and always stops it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import urllib.error
import urllib.request
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Self

from tests.fakes.alertmanager_payloads import rfc3339
from tests.support.ports import free_port
from tests.support.waiting import wait_until

CANDIDATES = ("prometheus-alertmanager", "alertmanager")
HTTP_TIMEOUT_S = 5.0


def find_alertmanager() -> str | None:
    """Path of the binary: ``$ALERTMANAGER_BIN``, then ``PATH``, then Debian's location."""
    explicit = os.environ.get("ALERTMANAGER_BIN")
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    fallback = "/usr/bin/prometheus-alertmanager"
    return fallback if os.access(fallback, os.X_OK) else None


def render_config(
    webhook_url: str,
    *,
    bearer_token: str | None = None,
    basic_auth: tuple[str, str] | None = None,
    group_by: tuple[str, ...] = ("alertname",),
    group_wait: str = "1s",
    group_interval: str = "2s",
    repeat_interval: str = "1h",
    send_resolved: bool = True,
    max_alerts: int = 0,
    also_notify: tuple[str, ...] = (),
) -> str:
    """alertmanager.yml as JSON (valid YAML, and quoting is always right).

    ``also_notify``: more webhook URLs in the same receiver, sent the same notifications
    (a recorder next to Firebreak captures exactly what Firebreak was sent).
    """
    webhook: dict[str, Any] = {
        "url": webhook_url,
        "send_resolved": send_resolved,
        "max_alerts": max_alerts,
    }
    http_config: dict[str, Any] = {}
    if bearer_token is not None:
        http_config["authorization"] = {"type": "Bearer", "credentials": bearer_token}
    if basic_auth is not None:
        http_config["basic_auth"] = {
            "username": basic_auth[0],
            "password": basic_auth[1],
        }
    if http_config:
        webhook["http_config"] = http_config
    config = {
        "route": {
            "receiver": "firebreak",
            "group_by": list(group_by),
            "group_wait": group_wait,
            "group_interval": group_interval,
            "repeat_interval": repeat_interval,
        },
        "receivers": [{"name": "firebreak", "webhook_configs": [webhook] + [{**webhook, "url": url} for url in also_notify]}],
    }
    return json.dumps(config, indent=2)


class AlertmanagerProcess:
    """One Alertmanager process. ``start()`` blocks until ``/-/ready``; ``stop()`` always reaps it."""

    def __init__(
        self,
        webhook_url: str,
        workdir: Path,
        *,
        binary: str | None = None,
        external_url: str | None = None,
        **config: Any,
    ) -> None:
        self.binary = binary or find_alertmanager()
        if self.binary is None:
            raise FileNotFoundError(
                "prometheus-alertmanager not found (apt-get install prometheus-alertmanager)"
            )
        self.webhook_url = webhook_url
        self.workdir = Path(workdir)
        self.config_path = self.workdir / "alertmanager.yml"
        self.log_path = self.workdir / "alertmanager.log"
        self._config = config
        #: ``--web.external-url``: what Alertmanager sends as ``externalURL`` (HA peers differ here).
        self.external_url = external_url
        self.port = 0
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0, attempts: int = 3) -> Self:
        """Write the config, launch, wait for readiness; retries on a port race."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(render_config(self.webhook_url, **self._config))
        last_error = ""
        for _ in range(attempts):
            self.port = free_port()
            self._launch()
            try:
                self._wait_ready(timeout)
                return self
            except RuntimeError as exc:
                last_error = str(exc)
                self.stop()
        raise RuntimeError(f"Alertmanager did not become ready: {last_error}")

    def _launch(self) -> None:
        storage = self.workdir / "data"
        storage.mkdir(exist_ok=True)
        log = open(self.log_path, "ab")
        try:
            self._proc = subprocess.Popen(
                [
                    str(self.binary),
                    f"--config.file={self.config_path}",
                    f"--storage.path={storage}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                    "--cluster.listen-address=",
                    "--log.level=debug",
                    *([f"--web.external-url={self.external_url}"] if self.external_url else []),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        finally:
            log.close()

    def _wait_ready(self, timeout: float) -> None:
        try:
            wait_until(self._ready, timeout=timeout, interval=0.1, what="Alertmanager ready", explain=lambda: f"log tail:\n{self.log_tail()}")
        except AssertionError as exc:
            raise RuntimeError(str(exc)) from None

    def _ready(self) -> bool:
        if self._proc is None or self._proc.poll() is not None:
            raise RuntimeError(f"exited early; log tail:\n{self.log_tail()}")
        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1.0) as resp:
                return bool(resp.status == 200)
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM, then SIGKILL after ``timeout``; idempotent."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def log_tail(self, lines: int = 30) -> str:
        """Last lines of the process log (for failure messages)."""
        try:
            return "\n".join(
                self.log_path.read_text(errors="replace").splitlines()[-lines:]
            )
        except OSError:
            return "(no log)"

    # ------------------------------------------------------------------ API v2
    def _request(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            f"{self.url}{path}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json", "Accept": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=HTTP_TIMEOUT_S) as resp:
            raw = resp.read()
        return json.loads(raw) if raw else None

    def post_alerts(self, alerts: list[dict[str, Any]]) -> None:
        """``POST /api/v2/alerts`` with postable alerts (labels, annotations, startsAt, endsAt, generatorURL)."""
        self._request("POST", "/api/v2/alerts", alerts)

    def fire(
        self,
        labels: Mapping[str, str],
        annotations: Mapping[str, str] | None = None,
        *,
        generator_url: str = "http://prometheus.example.com:9090/graph",
        starts_at: datetime | None = None,
    ) -> dict[str, Any]:
        """Post one firing alert; returns what was posted (resolve it with :meth:`resolve`)."""
        alert = {
            "labels": dict(labels),
            "annotations": dict(annotations or {}),
            "startsAt": rfc3339(starts_at or datetime.now(UTC)),
            "generatorURL": generator_url,
        }
        self.post_alerts([alert])
        return alert

    def resolve(
        self,
        labels: Mapping[str, str],
        annotations: Mapping[str, str] | None = None,
        *,
        starts_at: datetime | None = None,
    ) -> None:
        """Resolve an alert by posting it again with ``endsAt`` in the past."""
        now = datetime.now(UTC)
        self.post_alerts(
            [
                {
                    "labels": dict(labels),
                    "annotations": dict(annotations or {}),
                    "startsAt": rfc3339(starts_at or now - timedelta(minutes=1)),
                    "endsAt": rfc3339(now - timedelta(seconds=1)),
                }
            ]
        )

    def alerts(self) -> list[dict[str, Any]]:
        """``GET /api/v2/alerts``: what Alertmanager currently holds."""
        return list(self._request("GET", "/api/v2/alerts") or [])
