"""Every setting: the documented line works as written, and a bad value stops with its name.

Both tests discover the settings from ``Settings`` and ``.env.example`` themselves, so a
setting added later is covered without touching this file.
"""

from __future__ import annotations

import enum
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


def test_configuration_page_documents_every_setting() -> None:
    page = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert {name for name in ALIASES if f"| `{name}` |" not in page} == set(), "settings missing from docs/configuration.md"


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
