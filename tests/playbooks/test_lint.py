from pathlib import Path

import pytest

from bot.playbooks import PlaybookLoadError, lint_directory, load_directory

REPO_PLAYBOOKS = Path(__file__).resolve().parents[2] / "playbooks"

GOOD = """\
id: {id}
title: Good
escalation:
  levels:
    - name: L1
      delay: 5m
      targets:
        - slack_user: "@alice"
phases:
  - kind: diagnosis
    steps:
      - text: look
"""


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text)
    return path


def lines(problems: list) -> list[str]:
    return [str(problem) for problem in problems]


def test_clean_directory_has_no_problems(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", GOOD.format(id="a"))
    write(tmp_path, "b.yml", GOOD.format(id="b"))
    assert lint_directory(tmp_path) == []
    assert [p.id for p in load_directory(tmp_path)] == ["a", "b"]


def test_schema_errors_point_at_the_offending_key(tmp_path: Path) -> None:
    write(
        tmp_path,
        "bad.yaml",
        """\
id: bad
title: Bad
phases:
  - kind: diagnosis
    steps:
      - text: look
        deadline: 5 minutes
      - text: fix
colour: red
""",
    )
    assert lines(lint_directory(tmp_path)) == [
        f"{tmp_path}/bad.yaml:7: phases.0.steps.0.deadline: invalid duration '5 minutes': "
        "use a number with a unit (s, m, h, d), largest first, e.g. 30s, 5m, 1h, 1h30m",
        f"{tmp_path}/bad.yaml:9: colour: unknown key 'colour'",
    ]


def test_missing_required_key_is_reported_at_parent(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "id: a\ntitle: A\nphases:\n  - kind: diagnosis\n    steps:\n      - owner: commander\n")
    assert lines(lint_directory(tmp_path)) == [f"{tmp_path}/a.yaml:6: phases.0.steps.0.text: Field required"]


def test_semantic_problems(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", GOOD.format(id="same"))
    write(
        tmp_path,
        "b.yaml",
        """\
title: Second
id: same
escalation:
  levels:
    - delay: 1m
      targets: [{who: DBA}]
phases:
  - kind: resolution
    steps:
      - text: restart
        deadline: 5m
        on_deadline: escalate
        escalate_to: L9
  - kind: verification
    steps: []
""",
    )
    write(tmp_path, "c.yaml", "id: c\ntitle: C\nmanual: true\n")
    assert lines(lint_directory(tmp_path)) == [
        f"{tmp_path}/b.yaml:2: duplicate id 'same' (also in {tmp_path}/a.yaml)",
        f"{tmp_path}/b.yaml:13: escalate_to 'L9' is not an escalation level (levels: L1)",
        f"{tmp_path}/b.yaml:14: phase 2 (verification) has no steps",
        f"{tmp_path}/c.yaml:1: playbook has no phases (add phases, or notes for a reference-only playbook)",
    ]


def test_escalate_without_policy_uses_the_default_policy_but_cannot_name_a_level(tmp_path: Path) -> None:
    step = "id: a\ntitle: A\nphases:\n  - kind: resolution\n    steps:\n      - text: x\n        deadline: 5m\n        on_deadline: escalate\n"
    write(tmp_path, "a.yaml", step)
    assert lines(lint_directory(tmp_path)) == []
    write(tmp_path, "a.yaml", step + "        escalate_to: L1\n")
    assert lines(lint_directory(tmp_path)) == [
        f"{tmp_path}/a.yaml:9: escalate_to 'L1' names a level, but the playbook has no escalation block"
        " (leave escalate_to out to escalate to the default policy's next level)"
    ]


def test_yaml_syntax_error_line_and_duplicate_keys(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "id: a\ntitle: A\nphases:\n  - kind: diagnosis\n    steps: [\n      {text: x\n")
    write(tmp_path, "b.yaml", GOOD.format(id="b") + "title: Again\n")
    problems = lint_directory(tmp_path)
    assert problems[0].path.endswith("a.yaml")
    assert problems[0].message.startswith("YAML syntax error")
    assert problems[0].line == 7
    assert lines(problems[1:]) == [f"{tmp_path}/b.yaml:13: duplicate key 'title' (the later one would win)"]


def test_two_defaults_and_non_mapping(tmp_path: Path) -> None:
    body = "title: D\ndefault: true\nphases:\n  - kind: other\n    steps: [{text: x}]\n"
    write(tmp_path, "d1.yaml", "id: d1\n" + body)
    write(tmp_path, "d2.yaml", "id: d2\n" + body)
    write(tmp_path, "list.yaml", "- id: x\n")
    assert lines(lint_directory(tmp_path)) == [
        f"{tmp_path}/d2.yaml:3: more than one default playbook (also {tmp_path}/d1.yaml)",
        f"{tmp_path}/list.yaml:1: a playbook file must be a mapping (id: ..., title: ...)",
    ]


def test_missing_and_empty_directory(tmp_path: Path) -> None:
    assert lines(lint_directory(tmp_path / "nope")) == [f"{tmp_path}/nope: not a directory"]
    assert lines(lint_directory(tmp_path)) == [f"{tmp_path}: no playbooks (*.yaml, *.yml) found"]


def test_load_directory_raises_with_all_problems(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "id: a\n")
    with pytest.raises(PlaybookLoadError) as info:
        load_directory(tmp_path)
    assert [str(p) for p in info.value.problems] == [f"{tmp_path}/a.yaml:1: title: Field required"]


def test_starter_playbooks_lint_clean() -> None:
    assert lint_directory(REPO_PLAYBOOKS) == []
    playbooks = load_directory(REPO_PLAYBOOKS)
    ids = {p.id for p in playbooks}
    assert {"default", "high-error-rate", "high-latency", "database-connections", "disk-full", "memory-oom",
            "certificate-expiry", "backup-failure"} <= ids
    assert [p.id for p in playbooks if p.default] == ["default"]
    for playbook in playbooks:
        # The fallback escalates with FIREBREAK_DEFAULT_ESCALATION and suggests no severity:
        # it fits every incident, so it cannot know better than the incident's own.
        if playbook.default:
            assert playbook.escalation is None and playbook.severity is None
        else:
            assert playbook.escalation is not None
        assert playbook.phases
        assert any(step.commands for _, _, step in playbook.steps()), playbook.id


def test_anchors_and_aliases_reuse_a_block(tmp_path: Path) -> None:
    """Reusing a block is what anchors are for: the aliased steps load as written out."""
    body = (
        "id: reuse\ntitle: Reuse\nphases:\n  - kind: diagnosis\n    steps: &common\n      - text: look\n      - text: ask\n"
        "  - kind: mitigation\n    steps: *common\n"
    )
    write(tmp_path, "reuse.yaml", body)
    assert lint_directory(tmp_path) == []
    (playbook,) = load_directory(tmp_path)
    assert [[step.text for step in phase.steps] for phase in playbook.phases] == [["look", "ask"], ["look", "ask"]]


def test_an_alias_bomb_is_refused_where_it_starts_without_being_expanded(tmp_path: Path) -> None:
    """Nine levels of ten aliases stand for a billion values: refused from the node graph,
    before any of it is built (the whole lint takes a moment, not all the memory)."""
    levels = ['a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    levels += [f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 10)}]" for n in range(1, 10)]
    write(tmp_path, "bomb.yaml", GOOD.format(id="bomb") + "\n".join(levels) + "\n")
    (problem,) = lint_directory(tmp_path)
    assert problem.message == "YAML syntax error: the document stands for more than 50,000 values (a block an alias repeats counts each time)"
    assert problem.line is not None and 14 <= problem.line <= 23


def test_an_alias_inside_its_own_anchor_and_deep_nesting_are_problems_not_crashes(tmp_path: Path) -> None:
    write(tmp_path, "loop.yaml", GOOD.format(id="loop") + "extra: &self\n  - *self\n")
    write(tmp_path, "deep.yaml", "id: deep\nextra: " + "[" * 5000 + "]" * 5000 + "\n")
    found = {Path(problem.path).name: problem.message for problem in lint_directory(tmp_path)}
    assert found == {
        "deep.yaml": "YAML syntax error: the document nests too deeply",
        "loop.yaml": "YAML syntax error: an alias refers to the block that contains it (it would never end)",
    }


def test_a_long_string_aliased_many_times_is_refused_by_its_characters(tmp_path: Path) -> None:
    """Few values, but each a copy of a long string: what it stands for is counted in characters."""
    copies = ", ".join(["*long"] * 400)
    write(tmp_path, "wide.yaml", GOOD.format(id="wide") + f"long: &long {'x' * 10_000}\nmany: [{copies}]\n")
    (problem,) = lint_directory(tmp_path)
    assert problem.message == "YAML syntax error: the document stands for more than 2,000,000 characters of text (a block an alias repeats counts each time)"


def test_values_yaml_cannot_build_and_huge_files_are_problems_not_crashes(tmp_path: Path) -> None:
    write(tmp_path, "date.yaml", GOOD.format(id="date") + "updated: 2024-02-30\n")
    write(tmp_path, "digits.yaml", GOOD.format(id="digits") + f"number: {'9' * 5000}\n")
    write(tmp_path, "hex.yaml", GOOD.format(id="hex") + f"number: 0x{'f' * 4000}\n")
    write(tmp_path, "huge.yaml", GOOD.format(id="huge") + "notes: |\n" + ("  line of text\n" * 80_000))
    found = {Path(problem.path).name: problem.message for problem in lint_directory(tmp_path)}
    assert found["date.yaml"] == "YAML syntax error: a value cannot be read: day is out of range for month"
    assert found["digits.yaml"] == "YAML syntax error: an integer longer than 100 characters"
    assert found["hex.yaml"] == "YAML syntax error: an integer longer than 100 characters"
    assert found["huge.yaml"] == "YAML syntax error: the document is longer than 1,000,000 characters"


def test_a_phase_title_owner_or_level_name_longer_than_the_database_stores_is_refused_at_its_line(tmp_path: Path) -> None:
    """Step states are stored with their phase title (200 characters), owner and level name
    (64): PostgreSQL refused a longer value when the playbook was attached, and that undid the
    declaration of the incident itself. Lint names the line instead."""
    write(
        tmp_path,
        "long.yaml",
        f"""\
id: long
title: Long
escalation:
  levels:
    - name: {"L" * 65}
      delay: 5m
      targets:
        - slack_user: "@alice"
phases:
  - kind: diagnosis
    title: {"T" * 201}
    steps:
      - text: look
        owner: {"o" * 65}
        deadline: 5m
        on_deadline: escalate
        escalate_to: {"L" * 65}
""",
    )
    assert [line.split(": ", 2)[:2] for line in lines(lint_directory(tmp_path))] == [
        [f"{tmp_path}/long.yaml:5", "escalation.levels.0.name"],
        [f"{tmp_path}/long.yaml:11", "phases.0.title"],
        [f"{tmp_path}/long.yaml:14", "phases.0.steps.0.owner"],
        [f"{tmp_path}/long.yaml:17", "phases.0.steps.0.escalate_to"],
    ]
    write(tmp_path, "long.yaml", GOOD.format(id="long").replace("  - kind: diagnosis\n", f"  - kind: diagnosis\n    title: {'T' * 200}\n"))
    assert lint_directory(tmp_path) == []
