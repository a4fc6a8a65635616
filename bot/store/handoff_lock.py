"""A first-come, first-served lock for SQLite's single writer.

``threading.Lock`` has no fairness: the thread that just released it usually takes it
again before a woken waiter runs. The ingester folds group after group, so with a plain
lock a webhook waiting to be queued could wait out a whole pass. Handing the lock to the
oldest waiter bounds that wait to the one transaction in progress.
"""

from __future__ import annotations

import threading
from collections import deque


class HandoffLock:
    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._waiters: deque[threading.Event] = deque()
        self._held = False

    def acquire(self, timeout: float) -> bool:
        with self._mutex:
            if not self._held:
                self._held = True
                return True
            turn = threading.Event()
            self._waiters.append(turn)
        if turn.wait(timeout):
            return True
        with self._mutex:
            if turn in self._waiters:  # gave up before our turn came
                self._waiters.remove(turn)
                return False
        return True  # handed to us between the timeout and taking the mutex

    def release(self) -> None:
        with self._mutex:
            if self._waiters:
                self._waiters.popleft().set()  # stays held: ownership passes to the oldest waiter
            else:
                self._held = False
