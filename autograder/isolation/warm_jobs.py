"""Workers that start warm: each piece of work still gets a fresh process of its own, forked from a server
that has already imported what the work needs (a fresh `python` spends about 2 s importing nbgrader).

`start_server(folder, modules, warm_up)` starts `python -m autograder.isolation.warm_jobs SOCKET READY_FD`,
which imports `modules` and calls the function `warm_up` ("module:function", optional) once.
`run(socket, module, args, ...)` (through autograder/isolation/processes.py) asks it for a worker: a forked
child that, in a session of its own with its output in a log file, runs `module.main(["module", *args])`
and exits. Student code never runs in the server or in the worker: it runs in the kernel that the worker
starts in the sandbox. Linux/macOS only (fork).

Protocol (one unix-socket connection per worker): the client sends one JSON line {module, args, log, env};
the server answers "<pid>\\n"; the worker itself writes "exit <code>\\n" to the same connection when it ends.
A connection that closes without it means the worker was killed or crashed.
"""

import importlib
import json
import logging
import os
import signal
import socket
import sys
import tempfile
from pathlib import Path

from autograder.isolation.servers import PACKAGE_ROOT, Server, kill_group, launch
from autograder.isolation.warm_kernels import listen

log = logging.getLogger(__name__)


class ServerUnavailable(RuntimeError):
    """The server did not take the work (the caller then starts a fresh interpreter)."""


def run(
    socket_path: str, module: str, args: list[str], *, log_file: Path, hard_limit: float, env: dict, registry
) -> tuple[int | None, bool]:
    """One worker forked by the server at socket_path; waits for it (at most hard_limit seconds).
    Returns (its exit code or None when it was killed, whether it ran out of time). Raises
    ServerUnavailable when the server does not answer, before any work started."""
    request = {"module": module, "args": list(args), "log": str(log_file), "env": env}
    try:
        connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        connection.settimeout(60)
        connection.connect(socket_path)
        connection.sendall(json.dumps(request).encode() + b"\n")
        reader = connection.makefile("rb")
        pid = int(reader.readline())
    except (OSError, ValueError) as error:
        raise ServerUnavailable(str(error)) from error
    registry.add(pid)  # Ctrl-C: processes.stop_all_workers kills its process group
    try:
        connection.settimeout(hard_limit)
        try:
            ending = reader.readline()
        except TimeoutError:
            kill_group(pid)
            return None, True
    finally:
        registry.discard(pid)
        reader.close()
        connection.close()
    kill_group(pid)  # anything the worker left in its session
    if ending.startswith(b"exit "):
        return int(ending.split()[1]), False
    return None, False


# -- the server ------------------------------------------------------------------------------------------------


def _work(connection: socket.socket, request: dict) -> None:
    """In the forked worker: a session of its own, output to the log, then the module's main(); its exit
    code goes back over the connection. Never returns."""
    code = 1
    try:
        os.setsid()
        log_fd = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(log_fd, 1)
        os.dup2(log_fd, 2)
        os.close(log_fd)
        os.chdir(os.path.dirname(request["log"]))
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        os.environ.update(request["env"])
        tempfile.tempdir = None  # derived again from the worker's TMPDIR, as in a fresh interpreter
        module = importlib.import_module(request["module"])
        code = module.main([request["module"], *request["args"]])
    except SystemExit as exit:
        code = exit.code if isinstance(exit.code, int) else 1
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        try:
            connection.sendall(f"exit {code}\n".encode())
        except OSError:
            pass
        os._exit(code)


def _reap(*_):
    try:
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass
    except ChildProcessError:
        pass


def serve(socket_path: str, ready_fd: int, modules: list[str], warm_up: str) -> int:
    import ctypes

    ctypes.CDLL(None).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG: gone with the grader
    for name in modules:
        importlib.import_module(name)
    if warm_up:
        module, function = warm_up.split(":")
        try:
            getattr(importlib.import_module(module), function)()
        except Exception as error:  # only speed is lost
            log.warning("warm-up failed: %s: %s", type(error).__name__, error)
    listener = listen(socket_path, ready_fd, _reap)
    while True:
        connection, _ = listener.accept()
        with connection:
            try:
                request = json.loads(connection.makefile("rb").readline())
            except (OSError, ValueError):
                continue
            pid = os.fork()
            if pid == 0:
                listener.close()
                _work(connection, request)
            try:
                connection.sendall(f"{pid}\n".encode())
            except OSError:
                pass


def start_server(folder: str, modules: list[str], warm_up: str = "") -> Server:
    """Start a worker server (socket in `folder`) that imports `modules` and runs `warm_up` once.
    Raises RuntimeError when it cannot start."""
    env = dict(os.environ, PYTHONPATH=str(PACKAGE_ROOT))
    argv = [sys.executable, "-m", "autograder.isolation.warm_jobs", ",".join(modules), warm_up]
    return launch("warm-jobs", folder, argv, env)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")  # into the server's log file
    # argv: MODULES WARM_UP SOCKET READY_FD (launch appends the last two)
    sys.exit(serve(sys.argv[3], int(sys.argv[4]), [m for m in sys.argv[1].split(",") if m], sys.argv[2]))
