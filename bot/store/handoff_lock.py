"""A first-come, first-served lock for SQLite's single writer.

``threading.Lock`` has no fairness: the thread that just released it usually takes it
again before a woken waiter runs. The ingester folds group after group, so with a plain
lock a webhook waiting to be queued could wait out a whole pass. Handing the lock to the
oldest waiter bounds that wait to the one transaction in progress. The thread that
queues webhooks goes first of all: a sender is waiting for that commit, while the delivery
worker's and the ingester's transactions can wait a millisecond.
"""

from __future__ import annotations

import threading
from collections import deque


class HandoffLock:
    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._waiters: deque[threading.Event] = deque()
        self._held = False

    def acquire(self, timeout: float, *, urgent: bool = False) -> bool:
        """``urgent`` waiters go to the front of the queue (answering a webhook sender)."""
        with self._mutex:
            if not self._held:
                self._held = True
                return True
            turn = threading.Event()
            if urgent:
                self._waiters.appendleft(turn)
            else:
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
