"""``python -m bench.tuned_main MODE firebreak-args...``: run ``firebreak`` with other tuning.

MODE ``shipped`` leaves bot/tuning.py as it is; ``none`` applies no knob; ``serve`` applies
``serve``'s knobs (1 ms switch interval, gc.freeze) whatever the role. For bench/split_bench.py.
"""

from __future__ import annotations

import gc
import sys

import bot.tuning
from bot.cli import main
from bot.roles import Role


def _none(roles: frozenset[Role]) -> None:
    return None


def _serve(roles: frozenset[Role]) -> None:
    sys.setswitchinterval(bot.tuning.SERVE_SWITCH_INTERVAL)
    gc.collect()
    gc.freeze()


if __name__ == "__main__":
    mode, *args = sys.argv[1:]
    if mode == "none":
        bot.tuning.tune_process = _none
    elif mode == "serve":
        bot.tuning.tune_process = _serve
    sys.exit(main(args))
