"""Running one piece of work in a fresh process of its own, with a hard time limit, killable by Ctrl-C.

A worker is `python -m MODULE ARGS...` whose module has `main(argv) -> int`. It runs in a new session (so
its whole process group can be killed), with its output in a log file, either as a fresh interpreter or
forked by a warm server that has already imported MODULE (autograder/isolation/warm_jobs.py): the same
process, without the seconds of imports. A worker that runs longer than its hard limit is killed.

`stop_all_workers()` kills every running worker (the instructor pressed Ctrl-C); a worker started after it
is killed at once, so none outlives it.
"""

import logging
import os
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from autograder.isolation.servers import PACKAGE_ROOT, kill_group

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkerExit:
    """How a worker ended: its exit code (None: killed, or it never told), and whether it ran out of time."""

    code: int | None
    timed_out: bool = False

    def describe(self, hard_limit: float) -> str:
        if self.timed_out:
            return f"it took longer than {hard_limit:.0f} s and was stopped"
        if self.code is None:
            return "the grading process was killed (no exit code)"
        return f"the grading process ended with exit code {self.code}"


class _Registry:
    """Running workers by process-group id; after stop_all() every new one is killed at once."""

    def __init__(self):
        self._lock = threading.Lock()
        self._groups: set[int] = set()
        self.stopping = False

    def add(self, pid: int) -> None:
        with self._lock:
            self._groups.add(pid)
            stopping = self.stopping
        if stopping:
            kill_group(pid)

    def discard(self, pid: int) -> None:
        with self._lock:
            self._groups.discard(pid)

    def stop_all(self) -> None:
        with self._lock:
            self.stopping = True
            groups = list(self._groups)
        for pid in groups:
            kill_group(pid)


_workers = _Registry()


def stop_all_workers() -> None:
    """Kill every running worker and its children (Ctrl-C); workers started later are killed at once."""
    _workers.stop_all()


def run_worker(
    module: str,
    args: list[str],
    *,
    log_file: Path,
    hard_limit: float,
    env: dict[str, str],
    server: str | None = None,
) -> WorkerExit:
    """Run `MODULE.main(["MODULE", *args])` in a fresh process; `env` is added to its environment.
    server: the socket of a warm worker server that has imported MODULE (None: a fresh interpreter; a server
    that does not answer also means a fresh interpreter). Never raises for the worker's own failures."""
    if server:
        from autograder.isolation import warm_jobs

        try:
            code, timed_out = warm_jobs.run(
                server, module, args, log_file=log_file, hard_limit=hard_limit, env=env, registry=_workers
            )
            return WorkerExit(code, timed_out)
        except warm_jobs.ServerUnavailable as error:
            log.warning("the warm worker server did not answer (%s); using a fresh interpreter", error)
    return _run_cold(module, args, log_file=log_file, hard_limit=hard_limit, env=env)


def _run_cold(module: str, args: list[str], *, log_file: Path, hard_limit: float, env: dict) -> WorkerExit:
    environment = dict(os.environ, **env, PYTHONPATH=str(PACKAGE_ROOT))
    with open(log_file, "wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", module, *args],
            env=environment,
            cwd=log_file.parent,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    _workers.add(process.pid)
    try:
        code = process.wait(timeout=hard_limit)
    except subprocess.TimeoutExpired:
        kill_group(process.pid)
        process.wait()
        return WorkerExit(None, timed_out=True)
    finally:
        _workers.discard(process.pid)
    kill_group(process.pid)  # anything the worker left in its session
    return WorkerExit(code if code >= 0 else None)
