"""Starting the service from JupyterHub: the `services` entry of jupyterhub_config.py.

    from autograder.service.hub import grading_service
    c.JupyterHub.services = [grading_service(course_root, exchange, user=instructor)]

JupyterHub starts the command when the hub starts, restarts it if it dies, and stops it (SIGTERM) with the
hub. It has no web page (no url): students get their feedback through nbgrader's exchange.
"""

import os
import sys
from pathlib import Path

from autograder.course import ROOT
from autograder.service.server import DEFAULT_COURSE_ID


def serve_command(
    course_root, exchange, course_id: str = DEFAULT_COURSE_ID, python: str = sys.executable, extra: list[str] = ()
) -> list[str]:
    """The command line that runs the service (also what the README documents)."""
    return [
        str(python),
        "-m",
        "autograder",
        "serve",
        "--course",
        str(course_root),
        "--exchange",
        str(exchange),
        "--course-id",
        course_id,
        *extra,
    ]


def grading_service(
    course_root,
    exchange,
    *,
    user: str | None = None,
    course_id: str = DEFAULT_COURSE_ID,
    name: str = "autograder",
    python: str = sys.executable,
    package_root=None,
    extra: list[str] = (),
) -> dict:
    """JupyterHub's `services` entry of a managed service that runs the grading service.

    user: the Unix account it runs as (JupyterHub needs to run as root for that): the instructor who owns the
    course folder, so that the gradebook stays theirs and Formgrader can write it. None: the hub's own user.
    python: the interpreter of the course's environment (default: this one).
    package_root: the folder whose `autograder` package the service runs (its working directory; default:
    this repository). On the class hub: the instructor's course folder, which holds a copy of the package.
    extra: more options of `python -m autograder serve`, e.g. ["--max-per-hour", "30"].
    """
    bin_folder = str(Path(python).parent)
    service = {
        "name": name,
        "command": serve_command(course_root, exchange, course_id, python, extra),
        "cwd": str(package_root or ROOT),
        "environment": {
            "PATH": os.pathsep.join([bin_folder, "/usr/local/bin", "/usr/bin", "/bin"]),  # nbgrader runs alembic
            "PYTHONUNBUFFERED": "1",  # log lines reach the hub's log as they happen
            "OMP_NUM_THREADS": "1",
        },
        "display": False,
    }
    if user is not None:
        service["user"] = user
    return service
