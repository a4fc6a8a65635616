"""Make the fakes' fixtures available here without a top-level ``pytest_plugins``.

When the top-level ``tests/conftest.py`` declares ``pytest_plugins = ["tests.fakes.fixtures"]``
this import is redundant but harmless.
"""

from tests.fakes.fixtures import (  # noqa: F401
    alertmanager,
    alertmanager_binary,
    fake_pagerduty,
    fake_pagerduty_env,
    fake_slack,
    fake_slack_env,
    make_fake_slack,
    webhook_receiver,
)
