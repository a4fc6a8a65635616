"""Correlation and storm guard settings: defaults (guard on), parsing, and readable refusals."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.domain.severity import Severity
from bot.settings import SettingsError, load_settings


def test_defaults_turn_the_storm_guard_on_and_correlation_off() -> None:
    settings = load_settings(_env_file=None)
    assert settings.correlate_by == ()
    assert settings.correlate_window == timedelta(minutes=5)
    assert (settings.storm_threshold, settings.storm_window, settings.storm_exempt) == (10, timedelta(minutes=5), [Severity.P0])


def test_values_are_parsed() -> None:
    settings = load_settings(
        _env_file=None,
        FIREBREAK_CORRELATE_BY=" cluster, namespace ,cluster",
        FIREBREAK_CORRELATE_WINDOW="15m",
        FIREBREAK_STORM_THRESHOLD="0",
        FIREBREAK_STORM_WINDOW="1h",
        FIREBREAK_STORM_EXEMPT="p0,P1",
    )
    assert settings.correlate_by == ("cluster", "namespace")
    assert settings.correlate_window == timedelta(minutes=15)
    assert (settings.storm_threshold, settings.storm_window) == (0, timedelta(hours=1))
    assert settings.storm_exempt == [Severity.P0, Severity.P1]
    assert load_settings(_env_file=None, FIREBREAK_STORM_EXEMPT="none").storm_exempt == []


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("FIREBREAK_CORRELATE_BY", "cluster,1bad", "'1bad' is not a Prometheus label name"),
        ("FIREBREAK_CORRELATE_WINDOW", "30s", "must be between 1m and 1d"),
        ("FIREBREAK_CORRELATE_WINDOW", "5", "invalid duration"),
        ("FIREBREAK_STORM_WINDOW", "2d", "must be between 1m and 1d"),
        ("FIREBREAK_STORM_THRESHOLD", "-1", "greater than or equal to 0"),
        ("FIREBREAK_STORM_EXEMPT", "P0,P9", "P9"),
    ],
)
def test_bad_values_name_the_variable(name: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings(_env_file=None, **{name: value})
    assert f"{name}" in str(raised.value) and message in str(raised.value)
