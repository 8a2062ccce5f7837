"""Process pools that survive a dying worker and die with their parent.

A file can kill the process reading it (a native library aborting, the kernel's out-of-memory
killer). ``ordered_map`` then does not let one file cost the whole batch: the tasks that were in
flight when the pool broke are run again, each in a process of its own, so only the task that
kills its own process is reported as such, and a fresh pool goes on with the rest.

Workers are tied to their parent: if the parent is killed (even with SIGKILL, which runs no
clean-up), the kernel kills the workers too (Linux ``PR_SET_PDEATHSIG``), and a watch thread ends a
worker whose parent has gone where that call does not exist.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from itertools import islice
from typing import Any

PR_SET_PDEATHSIG = 1


def tie_to_parent(parent: int | None = None) -> None:
    """Make this process end when its parent does (pool initializer)."""
    parent = parent if parent is not None else os.getppid()
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:  # the parent died before the call above took effect
        os._exit(1)

    def watch() -> None:
        while True:
            time.sleep(1.0)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, daemon=True, name="parent-watch").start()


def pool(jobs: int) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(max_workers=jobs, initializer=tie_to_parent, initargs=(os.getpid(),))


def _batch(fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
    return [fn(item) for item in items]


def chunk_sizes(chunk: int, jobs: int, total: int | None = None) -> Iterator[int]:
    """The number of items of each task: ``chunk``, or with ``total`` known, no more than the
    items left shared out among the workers (guided self-scheduling): the last tasks are small,
    so the workers finish together instead of one idling while the other reads a whole chunk
    (16 files, ~0.1 s, in a merge whose parent waits for the last file)."""
    left = total
    while True:
        size = chunk if left is None else max(1, min(chunk, -(-left // jobs)))
        yield size
        if left is not None:
            left = max(0, left - size)


def ordered_map(
    fn: Callable[[Any], Any],
    items: Iterable[Any],
    jobs: int,
    on_death: Callable[[Any, str], Any],
    chunk: int = 16,
    total: int | None = None,
) -> Iterator[Any]:
    """``fn(item)`` for every item, in input order, computed by ``jobs`` worker processes.

    ``on_death(item, reason)`` gives the result for an item whose own process died. ``items`` is
    taken a chunk at a time (it may be an iterator that never exists as a list) and at most
    ``jobs * 4`` chunks are in flight, so a broken pool costs re-running that many items alone.
    ``total``, the number of items where it is known, makes the last chunks smaller
    (``chunk_sizes``).
    """
    items = iter(items)
    sizes = chunk_sizes(chunk, jobs, total)
    exhausted = False
    while not exhausted:
        executor = pool(jobs)
        window: deque[tuple[list[Any], Any]] = deque()
        broken = False
        try:
            while True:
                while not exhausted and len(window) < jobs * 4:
                    part = list(islice(items, next(sizes)))
                    if not part:
                        exhausted = True
                        break
                    window.append((part, executor.submit(_batch, fn, part)))
                if not window:
                    break
                future = window[0][1]
                try:
                    results = future.result()
                except BrokenProcessPool:
                    broken = True
                    break
                window.popleft()
                yield from results
        finally:
            if broken:
                executor.shutdown(wait=True, cancel_futures=True)
            else:
                _end(executor)
        if not broken:
            return
        for part, _ in window:
            for item in part:
                yield solo(fn, item, on_death)


# The threads of pools told to end but not waited for (``_end``): ``settle`` waits for them.
_ENDING: list[threading.Thread] = []


def _end(executor: ProcessPoolExecutor) -> None:
    """Tell a pool to end without waiting for its workers to exit (~10-30 ms): the caller goes
    on with what it does after the pool meanwhile (a merge's sums and county workbook). Its
    thread, which waits for them, is waited for by ``settle`` (or at exit)."""
    thread = getattr(executor, "_executor_manager_thread", None)
    executor.shutdown(wait=False, cancel_futures=True)
    _ENDING[:] = [t for t in _ENDING if t.is_alive()]  # (a long-lived process keeps none)
    if isinstance(thread, threading.Thread):
        _ENDING.append(thread)


def settle() -> None:
    """Wait until the pools told to end have ended: their workers exited and reaped, no thread
    of theirs left (a process about to fork must have no other thread)."""
    while _ENDING:
        _ENDING.pop().join()


def _solo_child(fn: Callable[[Any], Any], item: Any, conn: Any) -> None:
    tie_to_parent(os.getppid())
    conn.send(fn(item))
    conn.close()


def solo(fn: Callable[[Any], Any], item: Any, on_death: Callable[[Any, str], Any]) -> Any:
    """``fn(item)`` in a process of its own; ``on_death`` says what became of it if that dies."""
    ctx = multiprocessing.get_context()
    receive, send = ctx.Pipe(duplex=False)
    process = ctx.Process(target=_solo_child, args=(fn, item, send), daemon=True)
    process.start()
    send.close()
    try:
        result = receive.recv()
    except (EOFError, OSError):
        result = None
    finally:
        receive.close()
    process.join()
    if result is None and process.exitcode != 0:
        code = process.exitcode or 0
        reason = f"signal {signal.Signals(-code).name}" if code < 0 else f"exit status {code}"
        return on_death(item, reason)
    return result
