"""A progress line when compiling takes long.

The first realize of a new graph lowers, renders and compiles its kernels; with an empty
disk cache that can take seconds (PoCL builds, NVRTC, a big schedule). When one realize
has compiled for more than ``ZYX_PROGRESS_AFTER`` seconds (default 2), zyx writes one
line to stderr saying so, and one more when it is done::

    zyx: compiling kernels for cpu (2.0 s so far; cached on disk for the next run) ...
    zyx: compiled for cpu in 3.4 s

``ZYX_PROGRESS=0`` turns the lines off. The realizer calls ``compiling(device)`` around
each schedule it builds; a schedule-cache hit calls nothing. The clock is watched by one
daemon thread, started on first use without waiting for it to run, and asleep otherwise, so
entering ``compiling`` costs a dict insert under a lock (starting a timer thread per schedule
cost ~0.2 ms).
"""
from __future__ import annotations

import _thread
import contextlib
import itertools
import os
import sys
import threading
import time


def enabled() -> bool:
    return os.environ.get("ZYX_PROGRESS", "1").strip().lower() not in ("0", "false", "off", "no")


def delay() -> float:
    raw = os.environ.get("ZYX_PROGRESS_AFTER", "2").strip()
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"ZYX_PROGRESS_AFTER must be a number of seconds, not {raw!r}") from None


class _Watcher:
    """Tracks compiles in flight; its thread writes the line for those past their deadline."""

    def __init__(self):
        self.cv = threading.Condition()
        self.active: dict[int, list] = {}  # token -> [deadline, start, device, shown]
        self.tokens = itertools.count()
        self.started = False  # the watcher thread
        self.wake_at = float("inf")  # when the thread wakes next: an earlier deadline must wake it

    def begin(self, device: str, after: float) -> int:
        now = time.perf_counter()
        with self.cv:
            token = next(self.tokens)
            self.active[token] = [now + after, now, device, False]
            if not self.started:
                # (a bare thread, like a daemon: threading.Thread.start waits until the new
                # thread runs, and on a busy machine that cost a warm process's first
                # realize 1-5 ms - the wait for the interpreter lock)
                _thread.start_new_thread(self._run, ())
                self.started = True
            elif now + after < self.wake_at:
                self.cv.notify()
        return token

    def end(self, token: int) -> None:
        with self.cv:
            entry = self.active.pop(token, None)
        if entry is not None and entry[3]:
            _write(f"zyx: compiled for {entry[2]} in {time.perf_counter() - entry[1]:.1f} s")

    def _run(self) -> None:
        with self.cv:
            while True:
                pending = [e for e in self.active.values() if not e[3]]
                if not pending:
                    self.wake_at = float("inf")
                    self.cv.wait()
                    continue
                now = time.perf_counter()
                due = [e for e in pending if e[0] <= now]
                for e in due:
                    e[3] = True
                    _write(f"zyx: compiling kernels for {e[2]} ({now - e[1]:.1f} s so far; cached on disk for "
                           "the next run) ...")
                if not due:
                    self.wake_at = min(e[0] for e in pending)
                    self.cv.wait(timeout=self.wake_at - now)


_watcher = _Watcher()


def _write(line: str) -> None:
    try:
        print(line, file=sys.stderr, flush=True)
    except (OSError, ValueError):  # a closed stderr must not break a compile
        pass


@contextlib.contextmanager
def compiling(device: str):
    """Around one realize's scheduling and compiling for ``device`` (a name)."""
    if not enabled():
        yield
        return
    token = _watcher.begin(device, delay())
    try:
        yield
    finally:
        _watcher.end(token)
