"""Running nbgrader's own command-line program for the course, with the course configuration."""

import os
import subprocess
import sys
from pathlib import Path

from autograder.course import ROOT


class NbgraderError(RuntimeError):
    """An nbgrader command failed; the message holds its output."""


def nbgrader_env() -> dict:
    """The environment for nbgrader: this Python's bin/ first on PATH, since creating a gradebook runs `alembic`."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


def run_nbgrader(*args: str, cwd: Path = ROOT, timeout: float | None = None) -> str:
    """Run `nbgrader ARGS` in `cwd` (where nbgrader_config.py is found); returns its output, raises NbgraderError."""
    command = [sys.executable, "-m", "nbgrader", *args]
    result = subprocess.run(command, cwd=cwd, env=nbgrader_env(), capture_output=True, text=True, timeout=timeout)
    output = result.stdout + result.stderr
    if result.returncode != 0:
        raise NbgraderError(f"`nbgrader {' '.join(args)}` failed (exit {result.returncode}):\n{output}")
    return output
