"""Starting and stopping the warm servers (autograder/isolation/warm_kernels.py, warm_jobs.py).

Also where the package lives (PACKAGE_ROOT, for the processes that import it) and killing a process group.

A server is a process that has done its slow imports once and then forks fresh processes on request over
a unix socket. `launch` starts one and waits until it says "ready"; `Server.stop` ends it. The socket and
the server's log live in a 0700 folder of the grader's, never inside a sandbox.
"""

import os
import select
import signal
import subprocess
import time
from pathlib import Path

PACKAGE_ROOT = Path(__file__).resolve().parents[2]  # the folder that holds the autograder package


def kill_group(pid: int) -> None:
    """SIGKILL the process group `pid` (a worker and everything it started in its session)."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass


class Server:
    """A running server process: `socket_path` for its clients; `stop()` ends it."""

    def __init__(self, process, socket_path: str):
        self.process, self.socket_path = process, socket_path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def launch(name: str, folder: str, argv: list[str], env: dict, timeout: float = 120) -> Server:
    """Start a server `argv + [SOCKET, READY_FD]` (its socket and log `name`.sock/.log in `folder`, created
    0700) and wait until it writes "ready" to READY_FD. Raises RuntimeError with its log when it cannot start."""
    os.makedirs(folder, mode=0o700, exist_ok=True)
    os.chmod(folder, 0o700)
    socket_path, log_path = os.path.join(folder, f"{name}.sock"), os.path.join(folder, f"{name}.log")
    ready_r, ready_w = os.pipe()
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [*argv, socket_path, str(ready_w)],
            pass_fds=[ready_w],
            env=env,
            cwd="/",
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
        )
    os.close(ready_w)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if select.select([ready_r], [], [], 0.5)[0]:
                if os.read(ready_r, 16).startswith(b"ready"):
                    return Server(process, socket_path)
                break
            if process.poll() is not None:
                break
        process.kill()
        process.wait()
        with open(log_path, "rb") as log:
            error = log.read().decode(errors="replace").strip()[-500:]
        raise RuntimeError(f"the {name} server did not start: {error or 'no reason given'}")
    finally:
        os.close(ready_r)
