"""run_job with pre-imported workers: each notebook still gets a fresh process, forked from a server that
has already imported the grader and nbgrader (about 4 s per notebook on a busy 2-core machine).

`run_job(job, marker)` is a drop-in for autograder.grade.run_job. It uses multiprocessing's forkserver:
one server process imports WARM_MODULES once; every job is a new process forked from it, in its own session
(so the whole group, kernel included, can be killed), with stdout/stderr going to the job's log and the
same hard time limit and result handling as run_job. Student code never runs in the server: it runs in the
kernel that the forked worker starts, exactly as before. Linux/macOS only (fork).
"""
import json
import multiprocessing
import os
import signal
import sys
from pathlib import Path

from autograder import grade
from autograder.course import ROOT

WARM_MODULES = ["autograder.grade", "autograder.submission", "autograder.integrity", "autograder.outcome",
                "autograder.workspace", "autograder.guarded_execute", "autograder.sandbox", "nbformat",
                "nbgrader.apps", "nbgrader.api", "nbgrader.converters", "nbgrader.preprocessors",
                "nbconvert", "jupyter_client", "psutil", "sqlalchemy"]
_context = None


def _forkserver():
    global _context
    if _context is None:
        _context = multiprocessing.get_context("forkserver")
        _context.set_forkserver_preload(WARM_MODULES)
    return _context


def _child(job_file: str, result_file: str, log_file: str, marker: str) -> None:
    """In the forked worker: a session of its own, output to the log, then what `python -m autograder.grade` does."""
    os.setsid()
    log = os.open(log_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.environ["AUTOGRADER_RUN"] = marker
    from time import monotonic

    grade._STARTED = monotonic()  # the log's clock starts with the job, not with the server
    sys.exit(grade._main(["autograder.grade", job_file, result_file]))


def run_job(job: grade.Job, run_marker: str = "") -> grade.NotebookResult:
    """grade_notebook(job) in a fresh forked process with a hard time limit; never raises."""
    scratch = Path(job.scratch)
    scratch.mkdir(parents=True, exist_ok=True)
    job_file, result_file = scratch / "job.json", scratch / "result.json"
    log_file = scratch.parent / f"{scratch.name}.log"
    job_file.write_text(job.to_json(), encoding="utf-8")
    hard_limit = job.limits.notebook_timeout + 300
    try:
        process = _forkserver().Process(target=_child, args=(str(job_file), str(result_file), str(log_file),
                                                               run_marker))
        process.start()
    except Exception as error:  # the server could not start: fall back to a plain process
        print(f"warm_jobs: {error}; using a fresh interpreter", file=sys.stderr)
        return grade.run_job(job, run_marker)
    process.join(hard_limit)
    if process.is_alive():
        _kill_group(process.pid)
        process.join()
        return grade._failed(job, "timeout", f"grading took longer than {hard_limit} s and was stopped")
    _kill_group(process.pid)  # anything the worker left in its session
    if process.exitcode != 0 or not result_file.exists():
        return grade._failed(job, "error", f"the grading process ended with exit code {process.exitcode}")
    try:
        return grade.NotebookResult.from_dict(json.loads(result_file.read_text(encoding="utf-8")))
    except (ValueError, TypeError) as error:
        return grade._failed(job, "error", f"the grading process left an unreadable result ({error})")


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass


def main(argv=None) -> int:
    """`python -m autograder.warm_jobs grade ...`: the grader's command line with warm workers."""
    from autograder import batch, warm_jobs
    from autograder.__main__ import main as cli

    os.environ.setdefault("PYTHONPATH", str(ROOT))
    batch.run_job = warm_jobs.run_job  # the module's own function (picklable), not __main__'s
    return cli(argv)


if __name__ == "__main__":
    sys.exit(main())
