"""Grading sandbox: a student's kernel reaches nothing but its own copy of its notebook folder.

The grader asks `probe()` whether this machine can sandbox, then `kernel_setup(scratch_dir, limits)` for the
extra `nbgrader autograde` arguments and environment variables. They make nbgrader's Execute preprocessor
start every kernel through the kernelspec `qkv-sandbox`, written under scratch_dir and found through
JUPYTER_PATH, whose argv is autograder/isolation/sandbox_kernel.py: it wraps ipykernel in bubblewrap (`bwrap`, Debian
package `bubblewrap`) and util-linux `prlimit` (and `setpriv` when grading as root). nbgrader talks to the
kernel over unix sockets (jupyter_client's `ipc` transport) in scratch_dir/ipc, the only host folder the
kernel can write to: it has no network at all, not even the host's loopback.

Use one scratch_dir per nbgrader process; delete it after grading.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from autograder.isolation import sandbox_kernel
from autograder.isolation.limits import KERNEL_ENV, Limits
from autograder.isolation.servers import PACKAGE_ROOT

KERNEL_NAME = "qkv-sandbox"
# The kernelspec's launcher: -I, since it runs in the student's folder (nothing may be imported from there);
# so the package root is put on sys.path by hand.
LAUNCH = (
    f"import sys; sys.path.insert(0, {str(PACKAGE_ROOT)!r}); "
    "from autograder.isolation.sandbox_kernel import main; sys.exit(main(sys.argv))"
)
INSTALL_HINT = "sudo apt-get install -y bubblewrap"
MAX_SOCKET_PATH = 100  # unix socket paths are limited to 107 bytes; the kernel adds "-<port>" to the prefix


def _tools() -> dict[str, str | None]:
    names = ["bwrap", "prlimit"] + (["setpriv"] if os.geteuid() == 0 else [])
    return {name: shutil.which(name) for name in names}


def _python_paths() -> list[str]:
    """Host folders the kernel's Python needs, read-only: the installation it comes from and the venv."""
    paths = {
        sys.prefix,
        sys.exec_prefix,
        sys.base_prefix,
        sys.base_exec_prefix,
        os.path.dirname(os.path.dirname(os.path.realpath(sys.executable))),
    }
    return sorted(os.path.realpath(p) for p in paths)


def _settings(ipc_dir: Path, limits: Limits, warm_kernels: str | None = None) -> dict:
    """What the launcher needs; the paths are absolute so it works from any working directory."""
    tools = _tools()
    return {
        "bwrap": tools["bwrap"],
        "prlimit": tools["prlimit"],
        "setpriv": tools.get("setpriv"),
        "python": sys.executable,
        "read_only": _python_paths(),
        "ipc_dir": str(ipc_dir),
        "limits": {
            "memory": limits.memory,
            "cpu_seconds": limits.cpu_time,
            "file_size": limits.file_size,
            "processes": limits.processes,
            "tmp_space": limits.tmp_space,
        },
        "env": KERNEL_ENV,
        "warm_kernels": warm_kernels,
    }


def probe() -> tuple[bool, str]:
    """Can this machine sandbox student kernels? (True, what is used) or (False, why not and what to do)."""
    if not sys.platform.startswith("linux"):
        return False, f"the grading sandbox needs Linux namespaces; this is {sys.platform}"
    missing = [name for name, path in _tools().items() if path is None]
    if missing:
        return False, (
            f"{' and '.join(missing)} not found on PATH; install it with `{INSTALL_HINT}` "
            "(prlimit and setpriv are in util-linux)"
        )
    with tempfile.TemporaryDirectory(prefix="sandbox-probe-") as scratch:
        ipc_dir = Path(scratch)
        settings = _settings(ipc_dir, Limits())
        uid = sandbox_kernel.sandbox_uid()
        inner = [sys.executable, "-c", "import ipykernel"]
        command, fds = sandbox_kernel.build_command(settings, None, None, inner, uid)
        try:
            result = subprocess.run(command, pass_fds=fds, capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as error:
            return False, f"bubblewrap could not run: {error}"
        finally:
            for fd in fds:
                os.close(fd)
    if result.returncode != 0:
        detail = (result.stderr.strip() or f"exit code {result.returncode}").splitlines()[-1]
        return False, (
            f"bubblewrap cannot create the sandbox here ({detail}); user, mount, PID and network "
            "namespaces must be allowed (containers often forbid them; on Ubuntu 24.04 see "
            "kernel.apparmor_restrict_unprivileged_userns)"
        )
    who = "as an unprivileged uid of its own" if uid is not None else "in a user namespace"
    return True, f"bubblewrap sandbox: no network, private files, {who}, with resource limits"


def kernel_setup(
    scratch_dir: Path, limits: Limits = Limits(), warm_kernels: str | None = None
) -> tuple[list[str], dict[str, str]]:
    """Extra `nbgrader autograde` arguments and environment variables that run each kernel in the sandbox.

    warm_kernels: the socket of a warm-kernel server (autograder/isolation/warm_kernels.py); the kernel is then forked
    from it into the new sandbox instead of starting a fresh interpreter there (which stays the fallback).
    Writes scratch_dir/sandbox.json (the launcher's settings), scratch_dir/jupyter/kernels/qkv-sandbox/
    kernel.json and creates scratch_dir/ipc, the folder of the kernels' sockets.
    """
    scratch = Path(scratch_dir).resolve()
    ipc_dir = scratch / "ipc"
    socket_prefix = ipc_dir / "kernel"
    if len(str(socket_prefix)) > MAX_SOCKET_PATH:
        raise ValueError(
            f"the scratch folder {scratch} has too long a path for unix sockets; "
            "use a shorter one, e.g. from tempfile.mkdtemp()"
        )
    ipc_dir.mkdir(parents=True, exist_ok=True)
    ipc_dir.chmod(0o700)
    settings_file = scratch / "sandbox.json"
    settings = _settings(ipc_dir, limits, str(Path(warm_kernels).resolve()) if warm_kernels else None)
    settings_file.write_text(json.dumps(settings, indent=1), encoding="utf-8")
    spec_dir = scratch / "jupyter" / "kernels" / KERNEL_NAME
    spec_dir.mkdir(parents=True, exist_ok=True)
    spec = {
        # -I: the launcher runs on the host in the student's folder; it must not import anything from there.
        "argv": [sys.executable, "-I", "-c", LAUNCH, str(settings_file), "{connection_file}"],
        "display_name": "Python 3 (grading sandbox)",
        "language": "python",
        # A warm kernel is not in the launcher's process group: it gets interrupts as messages.
        "interrupt_mode": "message" if warm_kernels else "signal",
        "metadata": {"debugger": False},
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec, indent=1), encoding="utf-8")
    jupyter_path = os.pathsep.join(p for p in [str(scratch / "jupyter"), os.environ.get("JUPYTER_PATH")] if p)
    args = [
        f"--ExecutePreprocessor.kernel_name={KERNEL_NAME}",
        "--KernelManager.transport=ipc",
        f"--KernelManager.ip={socket_prefix}",
    ]
    return args, {"JUPYTER_PATH": jupyter_path}
