"""A real Dask cluster on this machine for the tests and the benchmark: `dask scheduler` and `dask worker`
processes (each worker under its nanny, as on a real cluster) bound to 127.0.0.1 on free ports.

    with LoopbackCluster(folder) as cluster:       # a scheduler and two workers, one thread each
        cluster.address                            # tcp://127.0.0.1:PORT
        cluster.kill_worker("w1")                  # SIGKILL the nanny, the worker and all they started
        cluster.start_worker("w1")                 # and start it again
"""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from autograder.course import ROOT


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class LoopbackCluster:
    def __init__(
        self, folder: Path, workers: int = 2, threads: int = 1, env: dict | None = None, allowed_failures: int = 1
    ):
        self.folder = Path(folder)
        self.threads, self.worker_names = threads, [f"w{i + 1}" for i in range(workers)]
        # The scheduler gives a task up (KilledWorker) after its workers died this many times + 1.
        self.env = dict(
            os.environ,
            PYTHONPATH=str(ROOT),
            DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES=str(allowed_failures),
            **(env or {}),
        )
        self.port = free_port()
        self.address = f"tcp://127.0.0.1:{self.port}"
        self.scheduler = None
        self.workers: dict[str, subprocess.Popen] = {}

    def _start(self, name: str, arguments: list[str], env: dict) -> subprocess.Popen:
        log = open(self.folder / f"{name}.log", "ab")
        return subprocess.Popen(
            [sys.executable, *arguments],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )

    def start(self) -> "LoopbackCluster":
        self.folder.mkdir(parents=True, exist_ok=True)
        self.scheduler = self._start(
            "scheduler",
            ["-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", str(self.port), "--no-dashboard"],
            self.env,
        )
        for name in self.worker_names:
            self.start_worker(name, wait=False)
        self.wait_for_workers(len(self.worker_names))
        return self

    def start_worker(self, name: str, env: dict | None = None, wait: bool = True) -> subprocess.Popen:
        """A `dask worker` with its nanny; env: variables of its own (e.g. a PATH without bubblewrap)."""
        (self.folder / name).mkdir(exist_ok=True)
        process = self._start(
            name,
            [
                "-m",
                "distributed.cli.dask_worker",
                self.address,
                "--host",
                "127.0.0.1",
                "--name",
                name,
                "--nthreads",
                str(self.threads),
                "--nworkers",
                "1",
                "--no-dashboard",
                "--memory-limit",
                "0",
                "--death-timeout",
                "60",
                "--local-directory",
                str(self.folder / name),
            ],
            dict(self.env, **(env or {})),
        )
        self.workers[name] = process
        if wait:
            self.wait_for_workers(len(self.workers))
        return process

    def client(self):
        from distributed import Client

        return Client(self.address, timeout=30, set_as_default=False)

    def wait_for_workers(self, count: int, timeout: float = 120) -> None:
        with self.client() as client:
            client.wait_for_workers(count, timeout=timeout)

    def kill_worker(self, name: str) -> None:
        """SIGKILL worker `name` at once, nanny and all (a machine lost), and wait until it is gone."""
        process = self.workers.pop(name)
        self.kill_processes(process.pid)
        process.wait(timeout=30)

    @staticmethod
    def processes_of(pid: int) -> set[int]:
        """`pid` and every process below it."""
        import psutil

        try:
            top = psutil.Process(pid)
            return {top.pid, *(p.pid for p in top.children(recursive=True))}
        except psutil.Error:
            return {pid}

    def stop_worker(self, name: str) -> None:
        """SIGTERM: the worker closes its plugins (graders) and leaves."""
        process = self.workers.pop(name)
        process.terminate()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.kill_processes(process.pid)

    def kill_processes(self, pid: int) -> None:
        for child in self.processes_of(pid):
            try:
                os.kill(child, signal.SIGKILL)
            except OSError:
                pass

    def stop(self) -> None:
        for name in list(self.workers):
            self.stop_worker(name)
        if self.scheduler is not None:
            self.scheduler.terminate()
            try:
                self.scheduler.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.scheduler.kill()
            self.scheduler = None

    def __enter__(self) -> "LoopbackCluster":
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc) -> None:
        self.stop()


def wait_until(condition, timeout: float, interval: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return False
