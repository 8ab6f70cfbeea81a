"""Start one IPython kernel inside a bubblewrap sandbox: the argv of the sandbox kernelspec.

jupyter_client runs `python -I -c LAUNCH SETTINGS.json CONNECTION_FILE` with the notebook's folder as
working directory (LAUNCH, in sandbox.py, puts this package's root first on sys.path and calls `main`;
autograder/isolation/sandbox.py writes SETTINGS.json and the kernelspec). This launcher reads
the folder and the connection file, then replaces itself with `bwrap`, so jupyter_client's process *is*
the sandbox and its signals (interrupt, kill) reach it. Inside, the kernel sees:

- /usr, the Python installation and the venv, read-only; a few files of /etc; new /proc and /dev;
- HOME=/home/student and /tmp: empty, private, in memory, gone when the kernel ends;
- its own copy of the notebook folder, /home/student/<folder>, the working directory;
- the folder of the kernel's IPC sockets (its only way out: there is no network, not even the host's
  loopback), at the same path as on the host.

Every process lives in a new PID namespace and dies with the kernel; resource limits are set by util-linux
`prlimit` inside. When run as root, the kernel runs as an unprivileged uid of its own (util-linux `setpriv`),
since Linux does not count root's processes against a process limit.

Standard library only (and warm_kernels, also standard library only): this runs on the host with `python -I`
in the student's folder, before the sandbox exists, so it must not import anything from that folder.
"""

import json
import os
import signal
import stat
import sys
import time

HOME = "/home/student"
CONNECTION_FILE = "/run/jupyter/kernel.json"
MAX_FILES = 200  # files copied from the notebook folder; each one is an open file descriptor here
# Host files the kernel may read: the dynamic linker's cache, time zone, and symlinks of the alternatives.
ETC_ALLOWED = [
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/localtime",
    "/etc/alternatives",
    "/etc/fonts",
    "/etc/mime.types",
]
TOP_LEVEL_LINKS = ["/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"]
# Host environment variables the kernel keeps (nbgrader's, locale and time zone); everything else (tokens,
# paths of the course) is dropped. The kernel's own settings come from the settings file ("env").
ENV_PASSED = ["NBGRADER_EXECUTION", "NBGRADER_VALIDATING", "TZ", "LANG", "LC_ALL"]
ROOT_UID_BASE = 2_000_000_000  # root mode: the kernel's uid is this plus the launcher's pid (unique while it runs)
MB = 1024 * 1024


class SandboxSetupError(RuntimeError):
    """The sandbox cannot be started (bad settings, too many or too large files)."""


def sandbox_uid() -> int | None:
    """The uid the kernel runs as in root mode, or None when the launcher is not root (a user namespace then)."""
    return ROOT_UID_BASE + os.getpid() if os.geteuid() == 0 else None


def _memfd(name: str, data: bytes) -> int:
    """An inheritable, in-memory file holding `data`, positioned at its start (for bwrap --file)."""
    fd = os.memfd_create(name, 0)  # no MFD_CLOEXEC: bwrap must inherit it
    os.write(fd, data)
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def _inheritable(fd: int) -> int:
    os.set_inheritable(fd, True)
    return fd


def _ancestors(path: str) -> list[str]:
    """'/a/b/c' -> ['/a', '/a/b']."""
    parts = path.strip("/").split("/")[:-1]
    return ["/" + "/".join(parts[: i + 1]) for i in range(len(parts))]


class Command:
    """bwrap's argument list, built in order (bwrap applies its mount options one after the other)."""

    def __init__(self):
        self.args: list[str] = []
        self.made: set[str] = set()  # folders that exist in the sandbox already

    def add(self, *args) -> None:
        self.args.extend(str(a) for a in args)

    def parents(self, path: str) -> None:
        """Create the missing parent folders of `path`, world-readable (bwrap would make them 0700)."""
        for folder in _ancestors(path):
            if folder not in self.made:
                self.add("--perms", "0755", "--dir", folder)
                self.made.add(folder)

    def mount(self, option: str, source, dest: str) -> None:
        self.parents(dest)
        self.add(option, source, dest)
        self.made.add(dest)

    def tmpfs(self, dest: str, size_mb: int, perms: str) -> None:
        self.parents(dest)
        self.add("--perms", perms, "--size", size_mb * MB, "--tmpfs", dest)
        self.made.add(dest)


def _host_system(command: Command, read_only: list[str]) -> None:
    """/usr, the merged-/usr links, the allowed /etc files and `read_only` folders, all read-only."""
    command.mount("--ro-bind", "/usr", "/usr")
    for link in TOP_LEVEL_LINKS:
        if os.path.islink(link):
            command.add("--symlink", os.readlink(link), link)
        elif os.path.isdir(link):
            command.mount("--ro-bind", link, link)
    for path in ETC_ALLOWED:
        if os.path.exists(path):
            command.mount("--ro-bind", path, path)
    for path in read_only:
        real = os.path.realpath(path)
        if real != "/usr" and not real.startswith("/usr/"):
            command.mount("--ro-bind", real, real)


def _identity(command: Command, uid: int, fds: list[int]) -> None:
    """Own passwd, group and hosts files that name only the student (the host's would list users and machines)."""
    files = {
        "/etc/passwd": f"student:x:{uid}:{uid}:student:{HOME}:/bin/sh\n",
        "/etc/group": f"student:x:{uid}:\n",
        "/etc/hosts": "127.0.0.1 localhost\n::1 localhost\n",
    }
    for path, text in files.items():
        fd = _memfd(os.path.basename(path), text.encode())
        fds.append(fd)
        command.parents(path)
        command.add("--perms", "0644", "--file", fd, path)


def _copy_folder(command: Command, source: str, dest: str, budget: int, fds: list[int]) -> None:
    """Copy the regular files and folders under `source` to `dest` in the sandbox (symlinks are skipped).

    Files are opened here, on the host, and bwrap copies them into the sandbox's memory (--file), so the
    host folder is never visible inside and nothing the kernel writes reaches it.
    """
    command.parents(dest)
    command.add("--perms", "0777", "--dir", dest)
    command.made.add(dest)
    count = total = 0
    for folder, subfolders, files in os.walk(source, followlinks=False):
        relative = os.path.relpath(folder, source)
        inside = dest if relative == "." else os.path.join(dest, relative)
        for name in sorted(subfolders):
            if not os.path.islink(os.path.join(folder, name)):
                command.add("--perms", "0777", "--dir", os.path.join(inside, name))
        for name in sorted(files):
            try:
                fd = os.open(os.path.join(folder, name), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
            except OSError:
                continue  # a symlink, a socket or an unreadable file: not part of the copy
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                os.close(fd)
                continue
            count, total = count + 1, total + info.st_size
            fds.append(_inheritable(fd))
            if count > MAX_FILES or total > budget:
                raise SandboxSetupError(
                    f"the notebook folder {source} is too large to copy into the sandbox "
                    f"(more than {MAX_FILES} files or {budget // MB} MB)"
                )
            command.add("--perms", "0666", "--file", fd, os.path.join(inside, name))


def _limits_command(prlimit: str, limits: dict) -> list[str]:
    """util-linux prlimit, run inside the sandbox (after the namespaces exist) with the kernel's limits."""
    cpu = int(limits["cpu_seconds"])
    return [
        prlimit,
        f"--as={int(limits['memory']) * MB}",
        f"--cpu={cpu}:{cpu + 5}",
        f"--fsize={int(limits['file_size']) * MB}",
        f"--nproc={int(limits['processes'])}",
        "--core=0",
        "--",
    ]


def sandbox_environment(settings: dict) -> dict[str, str]:
    """The kernel's whole environment inside the sandbox."""
    environment = {
        "HOME": HOME,
        "USER": "student",
        "LOGNAME": "student",
        "TMPDIR": "/tmp",
        "PATH": os.pathsep.join([os.path.dirname(settings["python"]), "/usr/local/bin", "/usr/bin", "/bin"]),
        "LANG": "C.UTF-8",
        # ipykernel: parent pid 1 means "do not watch the parent, do not print to the terminal".
        "JPY_PARENT_PID": "1",
    }
    environment.update(settings.get("env", {}))
    environment.update({name: os.environ[name] for name in ENV_PASSED if name in os.environ})
    return environment


def sandbox_workdir(workdir: str | None) -> str:
    """Where the copy of the host folder `workdir` is inside the sandbox (HOME when there is none)."""
    if workdir is None:
        return HOME
    return os.path.join(HOME, os.path.basename(os.path.abspath(workdir)) or "notebook")


def _rlimits(limits: dict) -> dict[str, tuple[int, int]]:
    """The limits of _limits_command, for the warm-kernel server (soft, hard)."""
    cpu = int(limits["cpu_seconds"])
    memory, file_size = int(limits["memory"]) * MB, int(limits["file_size"]) * MB
    processes = int(limits["processes"])
    return {
        "as": (memory, memory),
        "cpu": (cpu, cpu + 5),
        "fsize": (file_size, file_size),
        "nproc": (processes, processes),
        "core": (0, 0),
    }


def build_command(
    settings: dict, workdir: str | None, connection_fd: int | None, inner: list[str], uid: int | None
) -> tuple[list[str], list[int]]:
    """The full `bwrap ...` command that runs `inner` in the sandbox, and the file descriptors it inherits.

    settings: what sandbox.py wrote (python paths, IPC folder, limits); workdir: host folder copied to the
    sandbox as the working directory (None: start in HOME); connection_fd: the kernel's connection file;
    uid: None for a user namespace as the calling user, else the unprivileged uid to switch to (root mode).
    """
    limits = settings["limits"]
    fds: list[int] = []
    command = Command()
    command.add(
        settings["bwrap"],
        "--die-with-parent",
        "--unshare-pid",
        "--unshare-net",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--hostname",
        "sandbox",
    )
    if uid is None:
        command.add("--unshare-user", "--disable-userns")
    else:
        # Root keeps only what setpriv needs to become `uid`; setpriv then drops everything.
        command.add(
            "--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "--cap-add", "CAP_SETPCAP"
        )
    command.add("--proc", "/proc", "--dev", "/dev")
    command.made.update(["/proc", "/dev"])
    command.tmpfs("/dev/shm", limits["tmp_space"], "1777")
    command.tmpfs("/tmp", limits["tmp_space"], "1777")
    command.tmpfs(HOME, limits["tmp_space"], "0777")
    _host_system(command, settings["read_only"])
    _identity(command, uid if uid is not None else os.getuid(), fds)
    command.mount("--bind", settings["ipc_dir"], settings["ipc_dir"])
    if connection_fd is not None:
        fds.append(connection_fd)
        command.parents(CONNECTION_FILE)
        command.add("--perms", "0444", "--file", connection_fd, CONNECTION_FILE)
    chdir = sandbox_workdir(workdir)
    if workdir is not None:
        _copy_folder(command, workdir, chdir, int(limits["tmp_space"]) * MB, fds)
    command.add("--chdir", chdir, "--clearenv")
    for name, value in sandbox_environment(settings).items():
        command.add("--setenv", name, value)
    command.add("--")
    if uid is not None:
        command.add(
            settings["setpriv"],
            f"--reuid={uid}",
            f"--regid={uid}",
            "--clear-groups",
            "--inh-caps=-all",
            "--bounding-set=-all",
            "--no-new-privs",
            "--",
        )
    command.add(*_limits_command(settings["prlimit"], limits), *inner)
    return command.args, fds


class WarmKernelUnavailable(RuntimeError):
    """The warm-kernel server could not give this sandbox a kernel: start a cold one instead."""


def _read_until(fd: int, complete, timeout: float) -> bytes:
    """Read the pipe `fd` until complete(data) holds (the writers keep it open: no end of file to wait for)."""
    import select

    data, deadline = b"", time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        if select.select([fd], [], [], left)[0]:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            data += chunk
            if complete(data):
                return data
    raise WarmKernelUnavailable(f"the sandbox did not start ({len(data)} bytes of its status in {timeout:.0f} s)")


def _json_object(data: bytes) -> bool:
    try:
        json.loads(data)
        return True
    except ValueError:
        return False


def _run_warm(settings: dict, connection_file: str, kernel_options: list[str], uid: int | None) -> int:
    """A new sandbox around a placeholder process; the warm-kernel server (autograder/isolation/warm_kernels.py) forks
    the kernel into it. Returns when the kernel has ended; raises WarmKernelUnavailable before the kernel
    exists. jupyter_client's signals to this process group end bwrap, and with it everything in the sandbox."""
    import subprocess

    from autograder.isolation import warm_kernels

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # interrupts reach the kernel as messages (interrupt_mode)
    ready_r, ready_w = os.pipe()
    info_r, info_w = os.pipe()
    hold_r, hold_w = os.pipe()
    # The placeholder: says it runs (all mounts done), then waits until this launcher closes its stdin.
    holder = [settings["python"], "-I", "-S", "-c", f"import os; os.write({ready_w}, b'r'); os.read(0, 1)"]
    connection_fd = _inheritable(os.open(connection_file, os.O_RDONLY))
    command, fds = build_command(settings, os.getcwd(), connection_fd, holder, uid)  # SandboxSetupError: no kernel
    command[1:1] = ["--info-fd", str(info_w)]
    process = subprocess.Popen(command, pass_fds=[*fds, ready_w, info_w], stdin=hold_r)
    for fd in [*fds, ready_w, info_w, hold_r]:
        os.close(fd)
    try:
        target = json.loads(_read_until(info_r, _json_object, 60))["child-pid"]
        _read_until(ready_r, lambda data: data == b"r", 60)
        request = {
            "target": target,
            "uid": uid,
            "rlimits": _rlimits(settings["limits"]),
            "env": sandbox_environment(settings),
            "cwd": sandbox_workdir(os.getcwd()),
            "argv": kernel_options,
        }
        try:
            kernel = warm_kernels.request_kernel(settings["warm_kernels"], request, [1, 2])
        except warm_kernels.KernelRefused as error:
            raise WarmKernelUnavailable(str(error)) from error
    except (WarmKernelUnavailable, ValueError, KeyError) as error:
        process.kill()
        process.wait()
        os.close(hold_w)
        if isinstance(error, WarmKernelUnavailable):
            raise
        raise WarmKernelUnavailable(f"bwrap gave no process id ({error})") from error
    finally:
        os.close(ready_r)
        os.close(info_r)
    code = kernel.wait()
    if code is None:  # the server is gone, so nobody will report: wait for the kernel process itself
        try:
            pidfd = os.pidfd_open(kernel.pid)
        except ProcessLookupError:
            pidfd = None
        if pidfd is not None:
            import select

            select.select([pidfd], [], [])
            os.close(pidfd)
        code = 1
    os.close(hold_w)  # the placeholder exits, and bwrap with it
    process.wait()
    # Exit as bwrap would for a kernel started inside it: the kernel's code, 128 + N for a kernel killed by
    # signal N (the grader names the signal: a segmentation fault, memory, CPU time).
    return 128 - code if code < 0 else code


def main(argv: list[str]) -> int:
    """argv: [script, SETTINGS.json, CONNECTION_FILE, kernel options...] (jupyter_client appends options
    such as nbgrader's --HistoryManager.hist_file=:memory:; they are passed on to ipykernel)."""
    if len(argv) < 3:
        print("usage: sandbox_kernel.py SETTINGS.json CONNECTION_FILE [KERNEL OPTIONS...]", file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8") as handle:
        settings = json.load(handle)
    kernel_options = ["-f", CONNECTION_FILE, *argv[3:]]
    kernel = [settings["python"], "-m", "ipykernel_launcher", *kernel_options]
    uid = sandbox_uid()
    if uid is not None:
        os.chown(settings["ipc_dir"], uid, uid)  # the kernel creates its sockets there; nobody else may
    if settings.get("warm_kernels"):
        try:
            return _run_warm(settings, argv[2], kernel_options, uid)
        except WarmKernelUnavailable as error:
            print(f"sandbox: no warm kernel ({error}); starting a fresh interpreter", file=sys.stderr, flush=True)
        except (SandboxSetupError, OSError) as error:
            print(f"sandbox: {error}", file=sys.stderr)
            return 1
    connection_fd = _inheritable(os.open(argv[2], os.O_RDONLY))
    try:
        command, _ = build_command(settings, os.getcwd(), connection_fd, kernel, uid)
    except (SandboxSetupError, OSError) as error:
        print(f"sandbox: {error}", file=sys.stderr)
        return 1
    # jupyter_client interrupts a kernel with SIGINT to its whole process group: the kernel inside gets it,
    # and bwrap must survive it (ipykernel installs its own SIGINT handler while it runs a cell).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.execv(command[0], command)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
