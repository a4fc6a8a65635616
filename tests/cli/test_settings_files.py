"""Every setting: the documented line works as written, and a bad value stops with its name.

Both tests discover the settings from ``Settings`` and ``.env.example`` themselves, so a
setting added later is covered without touching this file.
"""

from __future__ import annotations

import enum
import json
import re
import types
import typing
from pathlib import Path

import pytest
from pydantic.fields import FieldInfo

from bot.cli import main
from bot.settings import Settings, SettingsError, load_settings
from tests.support.processes import ROOT, firebreak_env, run_firebreak

ENV_EXAMPLE = ROOT / ".env.example"
SETTING_LINE = re.compile(r"^#?\s?([A-Z][A-Z0-9_]*)=(.*)$")
ALIASES = {info.alias: name for name, info in Settings.model_fields.items() if info.alias}


def example_lines() -> list[tuple[int, str, str]]:
    """``(line number, NAME, value)`` for every setting line, commented or not."""
    found = []
    for number, line in enumerate(ENV_EXAMPLE.read_text(encoding="utf-8").splitlines(), start=1):
        match = SETTING_LINE.match(line)
        if match and match.group(1) in ALIASES:
            found.append((number, match.group(1), match.group(2)))
    return found


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for alias in ALIASES:
        monkeypatch.delenv(alias, raising=False)
    monkeypatch.chdir(tmp_path)  # relative paths (firebreak.db, playbooks) resolve here, as for a new user
    return tmp_path


def test_env_example_documents_every_setting() -> None:
    documented = {name for _, name, _ in example_lines()}
    assert set(ALIASES) - documented == set(), "settings missing from .env.example"


CONFIGURATION_PAGE = ROOT / "docs" / "configuration.md"
TABLE_ROW = re.compile(r"^\|\s*`([A-Z][A-Z0-9_]*)`\s*\|([^|]*)\|([^|]*)\|")
#: Environment variables of the test suite and the benchmarks, which the docs name too.
NOT_SETTINGS = re.compile(r"FIREBREAK_(?:TEST|BENCH)_\w+|FIREBREAK_REQUIRE_ALERTMANAGER")
#: Settings that are refused without another one, and the other one's value for the example check.
COMPANIONS = {"PAGERDUTY_API_TOKEN": {"PAGERDUTY_FROM_EMAIL": "firebreak@example.com"}}


def configuration_rows() -> dict[str, tuple[str, str]]:
    """``NAME -> (default cell, example cell)`` from the tables of docs/configuration.md."""
    rows: dict[str, tuple[str, str]] = {}
    for line in CONFIGURATION_PAGE.read_text(encoding="utf-8").splitlines():
        match = TABLE_ROW.match(line)
        if match:
            assert match.group(1) not in rows, f"{match.group(1)} has two rows in docs/configuration.md"
            rows[match.group(1)] = (match.group(2).strip(), match.group(3).strip())
    return rows


def test_configuration_page_documents_every_setting() -> None:
    assert set(ALIASES) - set(configuration_rows()) == set(), "settings missing from docs/configuration.md"


def test_configuration_page_documents_no_setting_that_does_not_exist() -> None:
    assert set(configuration_rows()) - set(ALIASES) == set(), "rows in docs/configuration.md that are no setting"


def test_docs_name_no_firebreak_variable_that_does_not_exist() -> None:
    """A setting renamed or removed must not live on in a page that tells people to set it."""
    pages = [ROOT / "README.md", ROOT / ".env.example", *sorted((ROOT / "docs").rglob("*.md"))]
    unknown = {
        f"{page.relative_to(ROOT)}: {name}"
        for page in pages
        for name in re.findall(r"\b(FIREBREAK_[A-Z0-9_]*[A-Z0-9])\b", page.read_text(encoding="utf-8"))
        if name not in ALIASES and not NOT_SETTINGS.fullmatch(name)
    }
    assert unknown == set()


def _shown(value: object) -> object:
    """A default as the page writes it: enums by value, numbers as numbers, JSON for tables."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dict):
        return {_shown(key): _shown(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_shown(item) for item in value]
    if isinstance(value, Path):
        return str(value)
    return value


def _documented_default(cell: str, default: object) -> bool:
    """Whether the page's default cell says ``default``; a long table may elide its middle with …."""
    text = cell.split("`")[1] if cell.count("`") >= 2 else cell
    if default in (None, "", {}, []):
        return cell.startswith("not set")
    if isinstance(default, bool):
        return text == str(default).lower()
    if isinstance(default, int | float):
        return re.fullmatch(r"-?[0-9.]+", text) is not None and float(text) == default
    if isinstance(default, list):
        return text.split(",") == default or (text.startswith("[") and json.loads(text) == default)
    if isinstance(default, dict):
        if "…" in text:
            full = json.dumps(default, separators=(",", ":"))
            head, _, tail = text.partition(",…,")
            return bool(head) and bool(tail) and full.startswith(head) and full.endswith(tail)
        return json.loads(text) == default
    return text == str(default)


@pytest.mark.parametrize("name", sorted(ALIASES))
def test_configuration_page_gives_each_default(name: str) -> None:
    rows = configuration_rows()
    if name not in rows:
        pytest.fail(f"{name} has no row in docs/configuration.md")
    info = Settings.model_fields[ALIASES[name]]
    default = _shown(info.get_default(call_default_factory=True))
    assert _documented_default(rows[name][0], default), f"{name}: the page says {rows[name][0]}, the default is {default!r}"


def test_the_default_check_tells_right_from_wrong() -> None:
    assert _documented_default("`0.5`", 0.5) and not _documented_default("`1`", 0.5)
    assert _documented_default("not set (off)", "") and not _documented_default("`5m`", "")
    assert _documented_default("`P2,P3`", ["P2", "P3"]) and not _documented_default("`P3`", ["P2", "P3"])
    assert _documented_default('`{"a":1,…,"c":3}`', {"a": 1, "b": 2, "c": 3})
    assert not _documented_default('`{"a":1,…,"c":4}`', {"a": 1, "b": 2, "c": 3})
    assert _documented_default("`true`", True) and not _documented_default("`false`", True)


@pytest.mark.parametrize("name", sorted(ALIASES))
def test_configuration_page_example_is_accepted(clean_env: Path, name: str) -> None:
    """The example a reader copies from the page is a value the setting takes."""
    example = configuration_rows()[name][1]
    values = re.findall(r"`([^`]+)`", example)
    assert values, f"{name}: the page gives no example value"
    value = values[0].replace("…", "0123456789")
    if ALIASES[name] in ("templates_dir",):  # a folder that must exist: make the one named
        Path(value.lstrip("/")).mkdir(parents=True, exist_ok=True)
        value = value.lstrip("/")
    try:
        load_settings(_env_file=None, **{name: value, **COMPANIONS.get(name, {})})
    except SettingsError as error:
        pytest.fail(f"docs/configuration.md's example {name}={value} is refused: {error}")


@pytest.mark.parametrize(("line", "name", "value"), example_lines(), ids=lambda v: str(v))
def test_each_env_example_line_uncommented_alone_is_accepted(clean_env: Path, line: int, name: str, value: str) -> None:
    env_file = clean_env / ".env"
    env_file.write_text(f"{name}={value}\n", encoding="utf-8")
    try:
        settings = load_settings(_env_file=env_file)
    except SettingsError as error:
        pytest.fail(f".env.example line {line} ({name}={value}) is refused: {error}")
    if value.strip():
        field = ALIASES[name]
        assert getattr(settings, field) not in (None, ""), f"line {line}: {name} was read as empty"


def test_the_whole_env_example_uncommented_is_accepted(clean_env: Path) -> None:
    env_file = clean_env / ".env"
    env_file.write_text("\n".join(f"{name}={value}" for _, name, value in example_lines()) + "\n", encoding="utf-8")
    load_settings(_env_file=env_file)


# -- bad values ------------------------------------------------------------------------


def _plain(annotation: object) -> object:
    """``Annotated[X, …]`` → X and ``X | None`` → X."""
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        members = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        if len(members) == 1:
            return _plain(members[0])
    return annotation


def bad_values(info: FieldInfo) -> list[str]:
    """Values no setting of this type can accept, derived from the field's type and bounds."""
    kind = _plain(info.annotation)
    origin = typing.get_origin(kind) or kind
    values: list[str] = []
    if kind is bool:
        values.append("maybe")
    elif kind is int:
        values += ["many", "1.5"]
    elif kind is float:
        values.append("fast")
    elif origin in (dict, list, set, tuple, typing.Mapping, typing.Sequence):
        values += ["{", "[1,", "nonsense"]
    elif isinstance(kind, type) and issubclass(kind, enum.Enum):
        values.append("no-such-choice")
    for bound in info.metadata:
        for attribute, delta in (("ge", -1), ("gt", 0), ("le", 1), ("lt", 0)):
            limit = getattr(bound, attribute, None)
            if isinstance(limit, int | float) and kind in (int, float):
                values.append(str(limit + delta))
    # Every kind of setting: a control character pasted into it (a \r from a Windows .env, a tab).
    values.append("bad\x07value")
    return values


CASES = [(info.alias, value) for info in Settings.model_fields.values() if info.alias for value in bad_values(info)]


@pytest.mark.parametrize(("name", "value"), CASES, ids=[f"{name}={value!r}" for name, value in CASES])
def test_every_setting_refuses_a_bad_value_by_name(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SystemExit) as stopped:
        main(["incidents", "list"])
    err = capsys.readouterr().err
    assert stopped.value.code == 2, err
    assert f"  {name}: " in err
    assert "Traceback" not in err


def test_every_setting_has_a_bad_value_to_try() -> None:
    assert {name for name, _ in CASES} == set(ALIASES)


# -- the values a new user tried, as real processes --------------------------------------


@pytest.mark.parametrize("value", ["P3", "P2,P3", '["P2","P3"]', "none"])
def test_auto_resolve_as_written_in_env_example_works(db_url: str, value: str) -> None:
    result = run_firebreak(["incidents", "list"], firebreak_env(db_url, FIREBREAK_AUTO_RESOLVE=value))
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("FIREBREAK_ESCALATION_SPEED", "fast", "'fast' is not key=value"),
        ("DATABASE_URL", "sqlite:////nonexistent/dir/x.db", "the folder /nonexistent/dir of the SQLite file does not exist"),
        ("FIREBREAK_SEVERITY_MAPPING", "{critical: P1}", "is not valid JSON"),
        ("FIREBREAK_AUTO_RESOLVE", "P9", "FIREBREAK_AUTO_RESOLVE"),
    ],
)
def test_bad_values_a_new_user_tried_stop_with_status_2(db_url: str, name: str, value: str, says: str) -> None:
    env = firebreak_env(db_url, **{name: value})
    result = run_firebreak(["db", "upgrade"], env)
    assert result.returncode == 2
    assert f"{name}: " in result.stderr and says in result.stderr
    assert "Traceback" not in result.stderr


def test_key_value_forms_are_accepted(clean_env: Path) -> None:
    settings = load_settings(
        _env_file=None, FIREBREAK_ESCALATION_SPEED="P0=0.5,P1=1", FIREBREAK_SEVERITY_MAPPING="Critical=p1,page=P1"
    )
    assert {key.value: factor for key, factor in settings.escalation_speed.items()} == {"P0": 0.5, "P1": 1.0}
    assert {key: level.value for key, level in settings.severity_mapping.items()} == {"critical": "P1", "page": "P1"}


@pytest.mark.parametrize("value", ['{"P1": NaN}', '{"P1": Infinity}', '{"P1": 1e300}', '{"P1": 1e12}', "P1=nan", "P2=0", "P2=-1"])
def test_an_escalation_speed_that_cannot_plan_a_deadline_is_refused(clean_env: Path, value: str) -> None:
    """NaN passed ``factor <= 0``; NaN, infinity and 1e12 then made planning the escalation of
    every incident of that severity raise, so its alerts opened no incident."""
    with pytest.raises(SettingsError) as refused:
        load_settings(_env_file=None, FIREBREAK_ESCALATION_SPEED=value)
    assert "FIREBREAK_ESCALATION_SPEED" in str(refused.value) and "at most 1000" in str(refused.value)
    assert load_settings(_env_file=None, FIREBREAK_ESCALATION_SPEED="P3=1000").escalation_speed


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("FIREBREAK_OUTBOX_LEASE_SECONDS", "1e12", "less than or equal to 86400"),
        ("FIREBREAK_OUTBOX_LEASE_SECONDS", "inf", "less than or equal to 86400"),
        ("SLACK_ARCHIVE_AFTER_SECONDS", "99999999999999", "less than or equal to 31536000"),
        ("FIREBREAK_REMINDER_AFTER_SECONDS", "1000000000000", "less than or equal to 2592000"),
        ("FIREBREAK_OUTBOX_POLL_SECONDS", "inf", "less than or equal to 3600"),
        ("FIREBREAK_INBOX_POLL_SECONDS", "inf", "less than or equal to 3600"),
        ("FIREBREAK_INBOX_POLL_SECONDS", "1e-300", "greater than or equal to 0.01"),
    ],
)
def test_a_time_setting_that_would_overflow_a_date_or_never_wake_is_refused(clean_env: Path, name: str, value: str, says: str) -> None:
    """A lease of 1e12 seconds overflowed the date at every claim (nothing was delivered), an
    archive delay as large failed every resolve, an infinite poll interval never polled and
    1e-300 never slept."""
    with pytest.raises(SettingsError) as refused:
        load_settings(_env_file=None, **{name: value})
    assert name in str(refused.value) and says in str(refused.value)


def test_env_example_sets_no_port_that_a_shared_environment_file_must_leave_out() -> None:
    """docs/operations.md: web and worker units read one environment file and each sets its own
    ports, which the file overrides under systemd. .env.example is what that file is copied
    from, so a live ``PORT=`` line there gave every web unit the same port."""
    active = {line.split("=", 1)[0] for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines() if re.match(r"^[A-Z][A-Z0-9_]*=", line)}
    assert active & {"PORT", "FIREBREAK_HEALTH_PORT"} == set()
