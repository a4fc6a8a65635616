"""``firebreak drill run|lint|new``: argparse wiring; the work is in runner, lint and starter.

Exit codes: 0 when every scenario ran (and, with ``--check``, every expectation was met);
1 when an expectation was missed or a file has problems; 2 for bad arguments or settings,
and for a scenario past the limits of drills (offsets, events, responses).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from bot.drill.clock import Pace
from bot.drill.lint import ScenarioError, lint_paths, load_scenario, past_limits
from bot.drill.report import to_json, to_markdown
from bot.drill.runner import run_scenario
from bot.drill.score import score as score_run
from bot.drill.starter import starter_yaml
from bot.settings import Settings


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("drill", help="rehearse an incident on a simulated clock; test playbooks and escalation in CI")
    commands = parser.add_subparsers(dest="drill_command", metavar="{run,lint,new}", required=True)

    run = commands.add_parser("run", help="run scenarios through the real pipeline on a throw-away database")
    run.add_argument("scenarios", nargs="+", type=Path, metavar="SCENARIO.yaml")
    run.add_argument("--check", action="store_true", help="no transcript; exit 1 naming each expectation missed")
    run.add_argument("--speed", type=_speed, default=None, help="watch in real time, N times faster (not with --check)")
    run.add_argument("--database-url", default=None, help="run on this database instead of a throw-away SQLite file")
    run.add_argument("--playbooks", type=Path, default=None, help="playbook folder (default: FIREBREAK_PLAYBOOKS_DIR)")
    run.add_argument(
        "--format", choices=("markdown", "json"), default="markdown", help="report printed at the end (default markdown)"
    )
    run.add_argument("--report-dir", type=Path, default=None, help="also write NAME.md and NAME.json per scenario here")
    run.set_defaults(func=cmd_run)

    lint = commands.add_parser("lint", help="check scenario files; file:line: message per problem")
    lint.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="scenario files, or folders of *.yaml")
    lint.add_argument("--playbooks", type=Path, default=None, help="also check expect.playbook against this folder")
    lint.set_defaults(func=cmd_lint)

    new = commands.add_parser("new", help="write a starter scenario")
    new.add_argument("--from-playbook", required=True, metavar="ID", help="a playbook whose alerts the scenario fires")
    new.add_argument("--playbooks", type=Path, default=None, help="playbook folder (default: FIREBREAK_PLAYBOOKS_DIR)")
    new.add_argument("-o", "--output", type=Path, default=None, help="file to write (default: print it)")
    new.add_argument("--force", action="store_true", help="overwrite --output if it exists")
    new.set_defaults(func=cmd_new)


def _speed(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < value <= 100_000:
        raise argparse.ArgumentTypeError("--speed is a factor above 0 (60: a minute a second)")
    return value


def _settings() -> Settings:
    """The settings with the outbound Slack and PagerDuty ones replaced before validation:
    a drill never uses them, so a value a server would refuse does not stop a drill."""
    from bot.drill.runner import OUTBOUND_DEFAULTS
    from bot.startup import settings_or_exit

    return settings_or_exit(**OUTBOUND_DEFAULTS)


def _scenario_files(paths: list[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        files += sorted([*path.glob("*.yaml"), *path.glob("*.yml")]) if path.is_dir() else [path]
    return files


def cmd_run(args: argparse.Namespace) -> int:
    if args.check and args.speed is not None:
        print("firebreak drill run: --speed is for watched runs; --check always uses the simulated clock", file=sys.stderr)
        return 2
    settings = _settings()
    if args.playbooks is not None:
        settings = settings.model_copy(update={"playbooks_dir": args.playbooks})
    _quiet_logs(settings)
    failed = 0
    usage = False
    for path in _scenario_files(args.scenarios):
        try:
            scenario = load_scenario(path)
        except ScenarioError as error:
            print(error, file=sys.stderr)
            failed += 1
            usage = usage or past_limits(error.problems)
            continue
        out = None if args.check else sys.stdout
        run = asyncio.run(run_scenario(scenario, settings, database_url=args.database_url, out=out, pace=Pace(args.speed), scorer=score_run))
        score = run.score
        if score is None:  # run_scenario scores with a scorer; keeps the type checker honest
            continue
        if args.report_dir is not None:
            args.report_dir.mkdir(parents=True, exist_ok=True)
            (args.report_dir / f"{_file_name(scenario.name)}.md").write_text(to_markdown(score), encoding="utf-8")
            (args.report_dir / f"{_file_name(scenario.name)}.json").write_text(to_json(score), encoding="utf-8")
        if args.check:
            verdict = "passed" if score.passed else "FAILED"
            print(
                f"{path}: {scenario.name}: {verdict} ({len(score.expectations)} expectations, "
                f"{score.simulated_seconds / 60:.0f} simulated minutes in {score.elapsed_seconds:.2f} s)"
            )
            for result in score.failed:
                print(f"{path}: missed {result}")
        else:
            print(
                to_json(score) if args.format == "json" else "\n" + to_markdown(score),
                end="" if args.format == "markdown" else "\n",
            )
        failed += 0 if score.passed or not args.check else 1
    return 2 if usage else 1 if failed else 0


def _file_name(name: str) -> str:
    safe = "".join(char if char.isalnum() or char in "-_" else "-" for char in name)
    return safe.strip("-") or "drill"


def _quiet_logs(settings: Settings) -> None:
    """The pipeline logs what a server logs; a drill's output is its transcript and report
    (start-up warnings about unreachable PagerDuty targets do not apply: nothing is paged)."""
    from bot.startup import configure_logging_for

    configure_logging_for(settings.model_copy(update={"log_level": "ERROR"}), stream=sys.stderr)


def cmd_lint(args: argparse.Namespace) -> int:
    files = _scenario_files(args.paths)
    if not files:
        print("firebreak drill lint: no scenario files (*.yaml, *.yml) found", file=sys.stderr)
        return 1
    ids = None
    if args.playbooks is not None:
        from bot.playbooks.registry import load_registry

        ids = frozenset(load_registry(args.playbooks).ids())
    problems = lint_paths(files, ids)
    for problem in problems:
        print(problem)
    errors = [problem for problem in problems if not problem.warning]
    if errors:
        print(f"{len(errors)} problem(s) in {len(files)} scenario file(s)", file=sys.stderr)
        return 2 if past_limits(errors) else 1
    print(f"{len(files)} scenario(s): no problems")
    return 0


def cmd_new(args: argparse.Namespace) -> int:
    from bot.playbooks.registry import load_registry

    directory = args.playbooks or _settings().playbooks_dir
    registry = load_registry(directory)
    playbook = registry.get(args.from_playbook)
    if playbook is None:
        known = ", ".join(registry.ids()) or "none"
        print(f"firebreak drill new: no playbook {args.from_playbook!r} in {directory} (there are: {known})", file=sys.stderr)
        return 2
    text = starter_yaml(playbook)
    if args.output is None:
        sys.stdout.write(text)
        return 0
    if args.output.exists() and not args.force:
        print(f"firebreak drill new: {args.output} exists; pass --force to overwrite it", file=sys.stderr)
        return 2
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output}")
    return 0
