"""Guard the fakes' public surface: what ``tests.fakes`` exports is importable and documented."""

from __future__ import annotations

from tests import fakes


def test_all_names_exist_and_have_docstrings() -> None:
    for name in fakes.__all__:
        obj = getattr(fakes, name)
        if callable(obj):
            assert obj.__doc__, f"{name} has no docstring"


def test_servers_stop_cleanly_and_idempotently() -> None:
    slack = fakes.FakeSlack().start()
    pd = fakes.FakePagerDuty().start()
    assert slack.api_url.startswith("http://127.0.0.1:") and pd.url.startswith(
        "https://127.0.0.1:"
    )
    for server in (slack, pd):
        server.stop()
        server.stop()
