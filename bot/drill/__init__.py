"""Drills: rehearse an incident on a simulated clock, and test playbooks and escalation like code.

``firebreak drill run|lint|new`` (bot/drill/cli.py). A scenario (bot/drill/scenario.py) is run
through the real pipeline on the drill's own database (bot/drill/runner.py) and scored
(bot/drill/score.py, bot/drill/report.py).
"""

from bot.drill.lint import ScenarioError, lint_paths, load_scenario
from bot.drill.results import Score
from bot.drill.runner import DrillRun, run_scenario
from bot.drill.scenario import Scenario

__all__ = ["DrillRun", "Scenario", "ScenarioError", "Score", "lint_paths", "load_scenario", "run_scenario"]
