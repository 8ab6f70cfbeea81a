"""Warm kernels: a server that has imported torch forks each student's kernel into that student's sandbox.

A fresh kernel spends about 1.5 s of CPU before the first cell runs: Python, ipykernel, torch, numpy and
matplotlib. This server pays that once per grading run. For every notebook, the sandbox launcher
(autograder/isolation/sandbox_kernel.py) still builds a new bubblewrap sandbox (new mount, PID, network, IPC and UTS
namespaces, its own copy of the notebook folder, its own uid in root mode), with only a tiny placeholder
process inside; it then sends this server the placeholder's pid and its kernel settings. The server forks a
child that joins the sandbox's namespaces and root directory and forks the kernel inside it; the kernel
then becomes the sandbox's unprivileged uid (no capabilities, no new privileges), sets the same resource
limits as prlimit, gets the sandbox's environment, stdout and stderr, and starts ipykernel. So every
notebook still runs in its own fresh process, in its own fresh sandbox; what it shares with the others is
the server's memory image from before any student code ran (modules only, copy-on-write), and with it the
address-space layout (ASLR is drawn once per server, not per kernel; `--cold-kernels` draws it per kernel).

    python -c BOOT warm_kernels.py SOCKET READY_FD     (start_server(); stdlib only until it preloads)

Protocol (one unix-socket connection per kernel): the launcher sends one JSON request and its stdout and
stderr as file descriptors (SCM_RIGHTS); the server answers one JSON line: {"pid": host pid of the kernel}
or {"error": "..."}, and keeps the connection open until the kernel ends: then "exit N" (N as subprocess
reports it: -SIGNAL for a kernel killed by a signal), so the launcher can exit as the kernel did. The
socket lives in a 0700 folder of the grader's, never inside a sandbox.
Linux only (setns, fork); the launcher falls back to a cold kernel whenever this server cannot help.
"""

import ctypes
import gc
import json
import os
import resource
import signal
import socket
import sys

# pyplot (a quarter second per kernel) but not matplotlib_inline: the inline backend must be imported in the
# kernel, where it finds the shell to hook into (as in a cold kernel, on the first figure). The rest: what a
# kernel imports anyway (ipykernel's start-up, numpy.random for the seeds below).
PRELOAD = [
    "numpy",
    "numpy.random",
    "torch",
    "torch.nn.functional",
    "matplotlib",
    "matplotlib.pyplot",
    "IPython",
    "ipykernel.kernelapp",
    "ipykernel.ipkernel",
    "ipykernel.zmqshell",
    "ipykernel.debugger",
    "IPython.core.debugger",
    "IPython.core.completerlib",
    "IPython.core.oinspect",
    "IPython.core.logger",
    "IPython.extensions.storemagic",
    "sqlite3",
    "tornado.gen",
    "tornado.queues",
    "tornado.platform.asyncio",
]
NAMESPACES = {
    "user": 0x10000000,
    "cgroup": 0x02000000,
    "ipc": 0x08000000,
    "uts": 0x04000000,
    "net": 0x40000000,
    "pid": 0x20000000,
    "mnt": 0x00020000,
}
RLIMITS = {
    "as": resource.RLIMIT_AS,
    "cpu": resource.RLIMIT_CPU,
    "fsize": resource.RLIMIT_FSIZE,
    "nproc": resource.RLIMIT_NPROC,
    "core": resource.RLIMIT_CORE,
}
PR_SET_PDEATHSIG, PR_SET_CHILD_SUBREAPER, PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS = 1, 36, 24, 38
NS_GET_USERNS = 0xB701  # ioctl on a namespace file: the user namespace that owns it
MAX_REQUEST = 1 << 20
IMPORTS_SET: dict = {}  # environment variables that PRELOAD's imports set (serve() fills it)
_libc = ctypes.CDLL(None, use_errno=True)


class KernelRefused(RuntimeError):
    """The server could not start this kernel (the launcher then starts a cold one)."""


# -- the launcher's side -------------------------------------------------------------------------------------


class KernelWatch:
    """A kernel the server has started: `pid` (host pid) and `wait()` for how it ended."""

    def __init__(self, pid: int, reader):
        self.pid, self._reader = pid, reader

    def wait(self) -> int | None:
        """Block until the kernel has ended; its exit code (-SIGNAL when killed), or None if the server is gone."""
        try:
            line = self._reader.readline()
        except OSError:
            line = b""
        finally:
            self._reader.close()
        return int(line.split()[1]) if line.startswith(b"exit ") else None


def request_kernel(socket_path: str, request: dict, stdio: list[int], timeout: float = 30) -> KernelWatch:
    """Ask the server at socket_path for a kernel. Raises KernelRefused."""
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        connection.settimeout(timeout)
        connection.connect(socket_path)
        socket.send_fds(connection, [json.dumps(request).encode() + b"\n"], stdio)
        reader = connection.makefile("rb")
        answer = reader.readline()
    except OSError as error:
        connection.close()
        raise KernelRefused(f"the warm-kernel server at {socket_path} did not answer ({error})") from error
    try:
        reply = json.loads(answer)
    except ValueError:
        reply = {"error": f"no answer ({answer[:200]!r})"}
    if "pid" not in reply:
        reader.close()
        connection.close()
        raise KernelRefused(reply.get("error", "no reason given"))
    connection.settimeout(None)  # the kernel may run for as long as the grader allows
    connection.close()  # the reader keeps the socket open
    return KernelWatch(int(reply["pid"]), reader)


# -- the server ------------------------------------------------------------------------------------------------


def _check(result: int, what: str) -> None:
    if result != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"{what}: {os.strerror(error)}")


def _receive(connection: socket.socket) -> tuple[dict, list[int]]:
    data, fds, _, _ = socket.recv_fds(connection, MAX_REQUEST, 4)
    while not data.endswith(b"\n"):
        chunk = connection.recv(MAX_REQUEST)
        if not chunk:
            break
        data += chunk
    return json.loads(data), fds


def _join_sandbox(target: int) -> None:
    """Enter the namespaces and root directory of the sandbox's placeholder process `target` (host pid).

    Unprivileged bubblewrap makes two user namespaces: one that owns the sandbox's other namespaces, and
    inside it (--disable-userns) the one the placeholder runs in. So: join the owner, then the other
    namespaces, then the placeholder's own. As root there is no user namespace to join."""
    own = {name: os.stat(f"/proc/self/ns/{name}").st_ino for name in NAMESPACES}
    ns_fds = {}
    for name in NAMESPACES:
        path = f"/proc/{target}/ns/{name}"
        if os.path.exists(path) and os.stat(path).st_ino != own[name]:
            ns_fds[name] = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    root = os.open(f"/proc/{target}/root", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    for name in ("mnt", "pid", "net"):
        if name not in ns_fds:
            raise OSError(f"process {target} is not in a sandbox of its own ({name} namespace is shared)")
    owner = _libc.ioctl(ns_fds["mnt"], NS_GET_USERNS)
    if owner < 0:
        _check(-1, "finding the sandbox's user namespace")
    owner_inode = os.fstat(owner).st_ino
    if owner_inode != own["user"]:
        _check(_libc.setns(owner, NAMESPACES["user"]), "joining the sandbox's outer user namespace")
    os.close(owner)
    for name in ("cgroup", "ipc", "uts", "net", "pid", "mnt"):
        if name in ns_fds:
            _check(_libc.setns(ns_fds.pop(name), NAMESPACES[name]), f"joining the {name} namespace")
    os.fchdir(root)
    os.chroot(".")
    os.close(root)
    user = ns_fds.pop("user", None)
    if user is not None:
        if os.fstat(user).st_ino != owner_inode:
            _check(_libc.setns(user, NAMESPACES["user"]), "joining the placeholder's user namespace")
        os.close(user)


def _drop_privileges(uid: int | None) -> None:
    """No way back: the bounding set emptied, then (root mode) the sandbox uid, no capabilities, no new privileges."""
    last_cap = int(open("/proc/sys/kernel/cap_last_cap").read())
    for cap in range(last_cap + 1):
        _libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)
    if uid is not None:
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
    header = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this process
    data = (ctypes.c_uint32 * 6)()  # effective, permitted, inheritable: all empty
    _check(_libc.capset(header, data), "dropping capabilities")
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "setting no_new_privs")


def _become_kernel(request: dict, stdio: list[int]) -> None:
    """In the kernel process (inside the sandbox): finish the isolation, then run ipykernel. Never returns."""
    os.setsid()
    devnull = os.open("/dev/null", os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(stdio[0], 1)
    os.dup2(stdio[1], 2)
    os.closerange(3, 65536)
    _drop_privileges(request.get("uid"))
    for name, value in request["rlimits"].items():
        resource.setrlimit(RLIMITS[name], (value[0], value[1]))
    os.umask(0o022)
    os.environ.clear()
    os.environ.update(request["env"])
    os.environ.update(IMPORTS_SET)
    os.chdir(request["cwd"])
    # ipykernel read JPY_PARENT_PID when it was imported (here, in the server): give it the sandbox's value.
    argv = [*request["argv"], f"--IPKernelApp.parent_handle={int(request['env'].get('JPY_PARENT_PID') or 0)}"]
    sys.argv = ["ipykernel_launcher", *argv]
    for name in [m for m in sys.modules if m == "__mp_main__"]:
        del sys.modules[name]
    import random
    import site

    import numpy

    random.seed()  # a fresh process draws new seeds; so does this one
    numpy.random.seed()
    # site worked these out from the server's HOME and flags; a kernel started in the sandbox would use its own.
    site.USER_BASE = site.USER_SITE = None
    site.ENABLE_USER_SITE = True
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    from ipykernel import kernelapp

    kernelapp.launch_new_instance(argv=argv)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _fork_kernel(request: dict, stdio: list[int]) -> int:
    """Fork a child that joins the sandbox and forks the kernel inside it; returns the kernel's host pid."""
    report_r, report_w = os.pipe()
    child = os.fork()
    if child == 0:  # the joining child: outside the sandbox's PID namespace itself, so it forks the kernel
        status = 1
        try:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGCHLD])  # serve() blocks it around the fork
            os.close(report_r)
            _join_sandbox(int(request["target"]))
            kernel = os.fork()
            if kernel == 0:
                try:
                    os.close(report_w)
                    _become_kernel(request, stdio)
                except BaseException as error:
                    print(f"warm kernel: {type(error).__name__}: {error}", file=sys.stderr, flush=True)
                os._exit(1)
            os.write(report_w, json.dumps({"pid": kernel}).encode())
            status = 0
        except BaseException as error:
            os.write(report_w, json.dumps({"error": f"{type(error).__name__}: {error}"}).encode())
        os._exit(status)
    os.close(report_w)
    report = b""
    while chunk := os.read(report_r, 65536):
        report += chunk
    os.close(report_r)
    try:
        os.waitpid(child, 0)
    except ChildProcessError:
        pass  # _reap, the SIGCHLD handler, was quicker
    reply = json.loads(report or b'{"error": "the joining process died"}')
    if "pid" not in reply:
        raise KernelRefused(reply["error"])
    return reply["pid"]


_WATCHERS: dict = {}  # kernel pid -> the launcher's connection, told the kernel's exit status when it ends


def _reap(*_):
    """SIGCHLD: collect ended kernels at once (they are re-parented to this server, a subreaper, when their
    joining child exits; the sandbox's PID namespace cannot end, nor bwrap exit, before they are) and tell
    each one's launcher how it ended ("exit N": N as subprocess gives it, -SIGNAL when killed)."""
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        connection = _WATCHERS.pop(pid, None)
        if connection is not None:
            try:
                connection.sendall(f"exit {os.waitstatus_to_exitcode(status)}\n".encode())
            except OSError:
                pass
            connection.close()


def listen(socket_path: str, ready_fd: int, reap) -> socket.socket:
    """A server's last step before its loop: listen on socket_path (owner only), collect ended children with
    `reap` (SIGCHLD), leave Ctrl-C to the grader that started it, and write "ready" to ready_fd."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(socket_path)
    os.chmod(socket_path, 0o600)
    listener.listen(64)
    signal.signal(signal.SIGCHLD, reap)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the terminal's Ctrl-C: the grader stops the servers itself
    os.write(ready_fd, b"ready\n")
    os.close(ready_fd)
    return listener


def serve(socket_path: str, ready_fd: int) -> int:
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # gone with the grader that started it
    _libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    import importlib

    before = dict(os.environ)
    for name in PRELOAD:
        importlib.import_module(name)
    # What those imports put into the environment (ipykernel's debugger sets PYDEVD_USE_FRAME_EVAL): a cold
    # kernel has it too, so every kernel gets it back after its environment is replaced.
    IMPORTS_SET.update({k: v for k, v in os.environ.items() if before.get(k) != v})
    if "matplotlib_inline.backend_inline" in sys.modules:  # it would never find a shell: no inline figures
        raise RuntimeError("matplotlib_inline was imported before the kernel's shell existed")
    # Every object so far is shared with the kernels, copy-on-write: keep the garbage collector from walking
    # (and so copying) them in every kernel.
    gc.freeze()
    listener = listen(socket_path, ready_fd, _reap)
    while True:
        connection, _ = listener.accept()
        stdio = []
        try:
            connection.settimeout(30)
            request, stdio = _receive(connection)
            if len(stdio) != 2:
                raise KernelRefused(f"expected stdout and stderr, got {len(stdio)} file descriptors")
            signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGCHLD])  # the kernel may end before it is watched
            try:
                pid = _fork_kernel(request, stdio)
                connection.sendall(json.dumps({"pid": pid}).encode() + b"\n")
                _WATCHERS[pid] = connection
                connection = None  # kept open until the kernel ends
            finally:
                signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGCHLD])
        except Exception as error:
            if connection is not None:
                try:
                    connection.sendall(json.dumps({"error": f"{type(error).__name__}: {error}"}).encode() + b"\n")
                except OSError:
                    pass
        finally:
            for fd in stdio:
                os.close(fd)
            if connection is not None:
                connection.close()


# -- starting and stopping the server (the grader's side) ----------------------------------------------------


def start_server(folder: str, kernel_env: dict, timeout: float = 120):
    """Start the warm-kernel server with its socket in `folder`; returns a servers.Server when it is ready.
    kernel_env: the kernels' environment (limits.KERNEL_ENV): torch and matplotlib read it when the server
    imports them, so it must be what a cold kernel has."""
    from autograder.isolation.servers import launch

    # A clean environment: the server's memory becomes every kernel's, so it holds nothing of the grader's.
    # HOME: an empty folder, so that no configuration of the grader's account (a matplotlibrc, user site
    # packages) is read into the server's memory and from there into the kernels.
    home = os.path.join(folder, "home")
    os.makedirs(home, exist_ok=True)
    env = {name: os.environ[name] for name in ("PATH", "LANG", "LC_ALL", "TZ") if name in os.environ}
    env.update(kernel_env, HOME=home)
    # Not -I: its safe-path flag would stay set in every kernel (IPython then leaves '' out of sys.path).
    # Compiled under a name that is no file: the server's functions stay at the bottom of every kernel's
    # stack, and tracebacks must not look for their source in the course folder (the integrity check
    # would rightly flag that).
    boot = (
        "import sys; path = sys.argv.pop(1); "
        "exec(compile(open(path).read(), '<warm-kernel server>', 'exec'), {'__name__': '__main__'})"
    )
    return launch("warm-kernels", folder, [sys.executable, "-c", boot, os.path.abspath(__file__)], env, timeout)


if __name__ == "__main__":
    del sys.path[0]  # '' (python -c): a kernel's sys.path is that of `python -m ipykernel_launcher`
    sys.exit(serve(sys.argv[1], int(sys.argv[2])))
