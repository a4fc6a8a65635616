"""The ``firebreak`` command's entry point.

Loading the package takes a moment (a second or more on a small host), and a Ctrl-C in that
moment would otherwise end in an import traceback: here it ends quietly with 130, as a
Ctrl-C does once the command runs (bot/cli.py).
"""

from __future__ import annotations


def main() -> int:
    try:
        from bot.cli import main as run
    except KeyboardInterrupt:
        return 130
    return run()
