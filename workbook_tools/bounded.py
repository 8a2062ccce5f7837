"""Run one reader's work in a forked child with a CPU-time and a memory limit.

The input bounds (sizes, counts, budgets) stop every costly shape we know of before it costs; a
native library (MuPDF) can still meet one we do not know: a drawing that never ends, memory that
grows without end, or a crash. In a child that is a coded finding for that one file, not a hung,
killed or crashed command that loses the other files. Where ``os.fork`` does not exist the work
runs in this process, bounded only by the input bounds.
"""

from __future__ import annotations

import faulthandler
import gc
import os
import pickle
import signal
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

CPU_SECONDS = 30  # the longest real report reads in well under a second
MEMORY_BYTES = 2 * 1024**3  # more than the process already has mapped


# In a forked child: what its work handed to the child's exit (``keep``); None in the parent.
_kept: list | None = None


def keep(*objects: object) -> None:
    """In a forked child, hold ``objects`` until the child exits: the exit gives back the whole
    address space at once, where freeing a document's hundred thousand small objects one by one
    costs milliseconds just before it (and a collection walking them as many). Elsewhere (no fork: the work ran in this process) nothing:
    they are freed as usual."""
    if _kept is not None:
        _kept.append(objects)
        gc.freeze()  # (nor walked by a collection: they live until the exit)


class Exhausted(Exception):
    """The child ran out of its CPU time (``what`` = "cpu"), of memory ("memory"), or died
    ("crash", with the signal's name)."""

    def __init__(self, what: str, detail: str = "") -> None:
        super().__init__(what, detail)
        self.what = what
        self.detail = detail


class Raised(Exception):
    """The work raised an exception that could not be sent back as itself."""


def run(work: Callable[[], T], cpu_seconds: int | None = None, memory: int | None = None) -> T:
    """``work()``'s result, computed in a forked child under the limits (by default CPU_SECONDS
    and MEMORY_BYTES). An exception the work raises is raised here (``Raised`` if it does not
    survive pickling); a child out of CPU time or memory, or killed by a signal, raises
    ``Exhausted``."""
    if not hasattr(os, "fork"):
        return work()
    return start(work, cpu_seconds, memory).result()


class Child:
    """A forked child doing its work (``start``): ``result()`` waits for it."""

    def __init__(self, pid: int, pipe: int, cpu_seconds: int, memory: int) -> None:
        self.pid, self.pipe, self.cpu_seconds, self.memory = pid, pipe, cpu_seconds, memory
        self.data: bytes | None = None  # what the child sent (nothing: it died first)
        self.status: int | None = None  # its wait status, once reaped
        self.cpu = 0.0  # the child's CPU time (user and system), once reaped

    def result(self, reap: bool = True) -> T:
        """As ``run``: the work's result, or its exception, or ``Exhausted``. Waits once; a
        second call says the same. ``reap=False`` returns as soon as the child has sent its
        outcome, without waiting for it to exit (tearing a forked process down takes a few
        milliseconds, more where its files' blocks are freed): ``reap()`` later."""
        if self.data is None:
            with os.fdopen(self.pipe, "rb") as pipe:
                self.data = pipe.read()
        if reap or not self.data:
            self.reap()
        data = self.data
        if not data:
            wait_status = self.status
            if os.WIFSIGNALED(wait_status):
                sig = os.WTERMSIG(wait_status)
                if sig in (signal.SIGXCPU, signal.SIGKILL):
                    raise Exhausted("cpu", f"more than {self.cpu_seconds} s of CPU")
                raise Exhausted("crash", signal.Signals(sig).name)
            raise Exhausted("crash", f"exit status {os.waitstatus_to_exitcode(wait_status)}")
        kind, value = pickle.loads(data)
        if kind == "value":
            return value
        if kind == "memory":
            raise Exhausted("memory", f"more than {self.memory // 1024**2} MiB")
        if kind == "unpicklable":
            raise Raised(value)
        raise value

    def reap(self) -> None:
        """Wait for the child to exit (once); its CPU time is then known."""
        if self.status is None:
            _, self.status, usage = os.wait4(self.pid, 0)
            self.cpu = usage.ru_utime + usage.ru_stime


def start(
    work: Callable[[], T], cpu_seconds: int | None = None, memory: int | None = None
) -> Child:
    """Fork a child computing ``work()`` under the limits while this process goes on; its
    ``result()`` gives the outcome. Only where ``os.fork`` exists."""
    global _kept
    cpu_seconds = cpu_seconds or CPU_SECONDS
    memory = memory or MEMORY_BYTES
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into the caller's code
        status = 1
        try:
            _kept = []
            os.close(read)
            faulthandler.disable()  # a crash is the parent's finding, not a dump on stderr
            # The parent's objects are the child's copy-on-write pages: a collection walking them
            # would copy the parent's whole heap (50 ms for a million objects). Only the child's
            # own objects are collected.
            gc.freeze()
            _limit(cpu_seconds, memory)
            try:
                outcome = ("value", work())
            except BaseException as exc:
                # (MuPDF's own out-of-memory error is FzErrorMemory)
                memory_out = isinstance(exc, MemoryError) or "Memory" in type(exc).__name__
                outcome = ("memory", None) if memory_out else ("raised", exc)
            try:
                data = pickle.dumps(outcome)
            except Exception as exc:
                data = pickle.dumps(("unpicklable", f"{type(exc).__name__}: {exc}"))
            with os.fdopen(write, "wb") as out:
                out.write(data)
            status = 0
        finally:
            os._exit(status)  # no atexit handlers, no flushing of the parent's buffers
    os.close(write)
    return Child(pid, read, cpu_seconds, memory)


def _limit(cpu_seconds: int, memory: int) -> None:
    """The child's limits, never above a hard limit the parent already has (a forked child's CPU
    time starts at zero)."""
    import resource

    for kind, want in (
        (resource.RLIMIT_CPU, cpu_seconds),
        (resource.RLIMIT_AS, _mapped_bytes() + memory),
    ):
        _, hard = resource.getrlimit(kind)
        if hard != resource.RLIM_INFINITY:
            want = min(want, hard)
        resource.setrlimit(kind, (want, hard))


def _mapped_bytes() -> int:
    """The address space already mapped (the child starts as a copy of the parent)."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return 0
