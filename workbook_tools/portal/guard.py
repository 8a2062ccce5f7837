"""Limits on guessing: the office secret (sign-in form and API) and unit links.

A secret chosen by a person can be guessed given enough tries, so failed tries are counted in a
sliding window per client address and over all clients; past either limit, sign-in answers
429 with how long to wait, without looking at the secret at all (a right guess during a lockout
does not get in). A unit link's token (256 bits) cannot be guessed, but wrong links are cheap
to try, so a client sending many of them is refused on unit pages for a while as well.

Counts live in the server's memory: a restart forgets them (the office can always sign in after
one). Behind a reverse proxy every client has the proxy's address unless uvicorn is told to
trust its X-Forwarded-For (``--forwarded-allow-ips``); the README says so.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    per_client: int  # failures from one address within ``window`` seconds
    overall: int | None  # failures from all addresses within ``window`` (None: no such limit)
    window: float  # seconds


SIGN_IN = Limits(per_client=5, overall=50, window=15 * 60)
UNIT_LINKS = Limits(per_client=30, overall=None, window=10 * 60)
MAX_CLIENTS = 10_000  # addresses remembered at most (the oldest are forgotten first)


class Throttle:
    """Failed attempts in a sliding window, per client address and over all of them."""

    def __init__(self, limits: Limits, clock=time.monotonic):
        self.limits = limits
        self.clock = clock
        self._clients: OrderedDict[str, deque[float]] = OrderedDict()
        self._all: deque[float] = deque()
        self._lock = threading.Lock()

    def _prune(self, times: deque[float], now: float) -> None:
        while times and times[0] <= now - self.limits.window:
            times.popleft()

    def wait(self, client: str) -> int:
        """Seconds until ``client`` may try again (0: it may now)."""
        now = self.clock()
        with self._lock:
            waits = [0.0]
            times = self._clients.get(client)
            if times is not None:
                self._prune(times, now)
                if len(times) >= self.limits.per_client:
                    waits.append(times[-self.limits.per_client] + self.limits.window - now)
            if self.limits.overall is not None:
                self._prune(self._all, now)
                if len(self._all) >= self.limits.overall:
                    waits.append(self._all[-self.limits.overall] + self.limits.window - now)
        return math.ceil(max(waits))

    def failed(self, client: str) -> None:
        now = self.clock()
        with self._lock:
            times = self._clients.pop(client, None) or deque()
            self._prune(times, now)
            times.append(now)
            self._clients[client] = times  # most recent last
            while len(self._clients) > MAX_CLIENTS:
                self._clients.popitem(last=False)
            if self.limits.overall is not None:
                self._all.append(now)
                self._prune(self._all, now)

    def succeeded(self, client: str) -> None:
        with self._lock:
            self._clients.pop(client, None)
