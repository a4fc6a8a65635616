"""Printing what arrives while someone is typing, without breaking the line they type.

The console reads commands with ``input()`` (GNU readline when available) while a thread
tails the transcript. Text from that thread is written *above* the prompt: the prompt line
is cleared, the new lines are printed, and the prompt is drawn again with what was typed so
far (readline's line buffer), so typing simply continues. Output of the command being run
is printed normally (the prompt is not shown then).
"""

from __future__ import annotations

import threading
from types import ModuleType
from typing import TextIO

CLEAR_LINE = "\r\x1b[2K"


def _readline() -> ModuleType | None:
    try:
        import readline
    except ImportError:  # Windows without pyreadline: no line editing, still works
        return None
    return readline


class LiveOutput:
    """A lock around the terminal, and whether the prompt is showing right now."""

    def __init__(self, out: TextIO, prompt: str, *, terminal: bool) -> None:
        self.out = out
        self.prompt = prompt
        self.terminal = terminal
        self.readline = _readline() if terminal else None
        self._lock = threading.RLock()
        self._at_prompt = False

    def read_line(self) -> str:
        """``input()`` with the prompt; raises EOFError at Ctrl-D."""
        with self._lock:
            self._at_prompt = True
        try:
            return input(self.prompt)
        finally:
            with self._lock:
                self._at_prompt = False

    def write(self, text: str) -> None:
        """Print ``text`` (whole lines); above the prompt when someone is at it."""
        if not text:
            return
        with self._lock:
            if self._at_prompt and self.terminal:
                typed = self.readline.get_line_buffer() if self.readline is not None else ""
                self.out.write(CLEAR_LINE + text + self.prompt + typed)
            else:
                self.out.write(text)
            self.out.flush()
