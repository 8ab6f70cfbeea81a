"""Without the sandbox: a kernelspec that sets the memory and file-size limits, then starts ipykernel.

Used when the machine cannot sandbox or the instructor asked for `--no-sandbox`: student code then runs as
the grader's user, limited only in time, output, memory and file size.
"""

import json
import sys
from pathlib import Path

from autograder.isolation.limits import KERNEL_ENV, Limits

KERNEL_NAME = "qkv-limited"


def kernel_setup(scratch: Path, limits: Limits) -> tuple[list[str], dict[str, str]]:
    """Write the `qkv-limited` kernelspec under scratch/jupyter; returns the extra nbgrader arguments and
    environment variables that select it (like sandbox.kernel_setup)."""
    spec_dir = Path(scratch) / "jupyter" / "kernels" / KERNEL_NAME
    spec_dir.mkdir(parents=True, exist_ok=True)
    memory, file_size = limits.memory * 2**20, limits.file_size * 2**20
    setup = (
        "import os, resource, sys; "
        f"resource.setrlimit(resource.RLIMIT_AS, ({memory}, {memory})); "
        f"resource.setrlimit(resource.RLIMIT_FSIZE, ({file_size}, {file_size})); "
        "resource.setrlimit(resource.RLIMIT_CORE, (0, 0)); "
        "os.execv(sys.executable, [sys.executable, '-s', '-m', 'ipykernel_launcher'] + sys.argv[1:])"
    )
    spec = {
        "argv": [sys.executable, "-I", "-c", setup, "-f", "{connection_file}"],
        "display_name": "Python 3 (limits)",
        "language": "python",
        "interrupt_mode": "signal",
        "env": KERNEL_ENV,
        "metadata": {"debugger": False},
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec, indent=1), encoding="utf-8")
    return [f"--ExecutePreprocessor.kernel_name={KERNEL_NAME}"], {"JUPYTER_PATH": str(Path(scratch) / "jupyter")}
