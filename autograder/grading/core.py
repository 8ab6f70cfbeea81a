"""Grading one notebook: `grade_notebook`, the one way the course grades a notebook.

    with Grader(["01_data"]) as grader:                       # once per process: template, sandbox, servers
        result = grade_notebook(data, "01_data", Limits(), grader=grader)   # bytes or a path in
        result.status, result.score, result.tests, result.feedback_html     # a GradeResult out

The class command (batch.py), a grading service and cluster workers all call it. Each call grades in a
fresh worker process of its own (autograder/grading/worker.py; forked warm when the grader's worker server
runs) with a fresh kernel in a new sandbox, in a temporary folder of its own that is deleted afterwards: it
depends on no output folder, no current directory, and two calls share nothing a student could reach.
It never raises for anything a notebook does: a failure of the grader itself is an `error` result.
"""

import json
import logging
import os
import shutil
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from autograder.course import STAGES
from autograder.grading.feedback import simple_page
from autograder.grading.outcome import StageInfo
from autograder.grading.result import GradeResult, Status
from autograder.grading.worker import (
    AUTOGRADED_FILE,
    FEEDBACK_FILE,
    JOB_FILE,
    NOTEBOOK_FILE,
    RESULT_FILE,
    Job,
    untouched_tests,
)
from autograder.isolation.limits import KERNEL_ENV, Limits
from autograder.isolation.processes import run_worker

log = logging.getLogger(__name__)
WORKER = "autograder.grading.worker"
# What the warm worker server imports once, and its warm-up (autograder/isolation/warm_jobs.py).
WORKER_MODULES = [
    WORKER,
    "autograder.grading.submission",
    "autograder.grading.integrity",
    "autograder.grading.outcome",
    "autograder.grading.workspace",
    "autograder.grading.config",
    "autograder.grading.guarded_execute",
    "autograder.grading.feedback",
    "autograder.isolation.sandbox",
    "autograder.isolation.unsandboxed",
    "nbformat",
    "nbgrader.apps",
    "nbgrader.api",
    "nbgrader.converters",
    "nbgrader.preprocessors",
    "nbconvert",
    "nbconvert.exporters",
    "jupyter_client",
    "nbclient",
    "psutil",
    "sqlalchemy",
    "bs4",
]
WORKER_WARM_UP = "autograder.grading.feedback:warm_up"
HARD_LIMIT_MARGIN = 300  # seconds a worker may take beyond the notebook's own time limit
MAX_LOG = 200_000  # characters of a worker's log kept in an `error` result
UNGRADED = "Your notebook could not be graded automatically; your instructor will look at it."


class SandboxUnavailable(RuntimeError):
    """Grader(require_sandbox=True) on a machine that cannot sandbox student code; the message says why."""


class Grader:
    """What grading needs once per process: the course's template (an nbgrader gradebook of the stages, with
    the hidden tests), whether student code runs in the sandbox, and the warm servers.

    stages: the stages it can grade (default: all); sandbox: run kernels in the sandbox when the machine can
    (False: --no-sandbox); require_sandbox: raise SandboxUnavailable instead of grading without it; warm:
    fork workers and kernels from warm servers. Start it from a thread that lives as long as it (the servers
    die with the thread that started them). `sandbox_line` and `warm_line` say how it grades.
    """

    def __init__(
        self, stages: list[str] | None = None, *, sandbox: bool = True, require_sandbox: bool = False, warm: bool = True
    ):
        self.stages = list(stages or STAGES)
        unknown = [s for s in self.stages if s not in STAGES]
        if unknown:
            raise ValueError(f"unknown stage(s) {', '.join(unknown)}; the course has {', '.join(STAGES)}")
        self.want_sandbox, self.require_sandbox, self.want_warm = sandbox, require_sandbox, warm
        self.folder: Path | None = None
        self.template: Path | None = None
        self.sandbox = False
        self.sandbox_line = self.warm_line = ""
        self.worker_socket: str | None = None
        self.kernel_socket: str | None = None
        self.run_marker = f"run-{os.getpid()}-{time.time_ns()}"
        self._servers: list = []
        self._info: dict[str, StageInfo] = {}
        self._lock = threading.Lock()

    def __enter__(self) -> "Grader":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    def start(self) -> "Grader":
        from autograder.grading.workspace import Workspace

        self.sandbox, self.sandbox_line = sandbox_status(self.want_sandbox)
        if self.require_sandbox and not self.sandbox:
            raise SandboxUnavailable(self.sandbox_line)
        self.folder = Path(tempfile.mkdtemp(prefix="qkv-grade-"))
        (self.folder / "jobs").mkdir()
        try:
            # nbgrader makes the template (a process of its own) while the servers start.
            with ThreadPoolExecutor(max_workers=1) as background:
                making = background.submit(Workspace(self.folder / "template").create, self.stages)
                self._start_servers()
                self.template = making.result().root
        except BaseException:
            self.close()
            raise
        return self

    def _start_servers(self) -> None:
        from autograder.isolation import warm_jobs, warm_kernels

        if not self.want_warm:
            self.warm_line = "Warm start: off (--cold-kernels): every worker and kernel is a fresh interpreter."
            return
        words = []
        starts = [
            ("workers", lambda folder: warm_jobs.start_server(folder, WORKER_MODULES, WORKER_WARM_UP)),
            ("kernels", (lambda folder: warm_kernels.start_server(folder, KERNEL_ENV)) if self.sandbox else None),
        ]
        for what, start in starts:
            if start is None:
                words.append(f"{what} fresh (warm kernels need the sandbox)")
                continue
            try:
                server = start(str(self.folder / f"warm-{what}"))
            except (RuntimeError, OSError) as error:
                words.append(f"{what} fresh (the server could not start: {error})")
                continue
            self._servers.append(server)
            setattr(self, "worker_socket" if what == "workers" else "kernel_socket", server.socket_path)
            words.append(f"{what} forked warm")
        self.warm_line = (
            "Warm start: " + "; ".join(words) + ". Each notebook still has its own new process and "
            "sandbox (--cold-kernels: fresh interpreters)."
        )

    def close(self) -> None:
        for server in self._servers:
            server.stop()
        self._servers = []
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None

    def stage_info(self, stage: str) -> StageInfo:
        with self._lock:
            if stage not in self._info:
                self._info[stage] = StageInfo.load(self.template, stage)
            return self._info[stage]


def sandbox_status(wanted: bool) -> tuple[bool, str]:
    """(use the sandbox, a line for the terminal and the summary)."""
    unprotected = "student code runs as you, limited only in time, memory, output and file size"
    if not wanted:
        return False, f"Sandbox: OFF (--no-sandbox): {unprotected}."
    try:
        from autograder.isolation import sandbox

        available, reason = sandbox.probe()
    except Exception as error:  # an unusable sandbox must not stop grading
        available, reason = False, f"the sandbox could not be checked ({type(error).__name__}: {error})"
    if available:
        return True, f"Sandbox: on ({reason})."
    return False, f"Sandbox: UNAVAILABLE ({reason}). Grading without it: {unprotected}."


def grade_notebook(
    notebook: bytes | str | os.PathLike | None,
    stage: str,
    limits: Limits = Limits(),
    *,
    grader: Grader | None = None,
    notes: tuple[str, ...] = (),
) -> GradeResult:
    """Grade one student's notebook of `stage` under `limits`.

    notebook: the file's bytes, or its path; None means the student handed in nothing (status `missing`).
    grader: a started Grader (None: one is made for this call alone, which costs a few seconds).
    notes: what the caller knows about the file (e.g. how it was found), shown to the student and kept.
    """
    if grader is None:
        with Grader([stage]) as own:
            return grade_notebook(notebook, stage, limits, grader=own, notes=notes)
    if stage not in grader.stages:
        raise ValueError(f"this grader was started for {', '.join(grader.stages)}, not {stage}")
    started = time.monotonic()
    info = grader.stage_info(stage)
    if notebook is None:
        return GradeResult(
            stage,
            Status.MISSING,
            0.0,
            info.max_score,
            untouched_tests(info, "missing"),
            list(notes),
            simple_page(stage, f"No notebook {stage} was found in your submission."),
        )
    if not isinstance(notebook, bytes):
        try:
            notebook = Path(notebook).read_bytes()
        except OSError as error:
            return GradeResult(
                stage,
                Status.UNREADABLE,
                0.0,
                info.max_score,
                untouched_tests(info, "not run"),
                [f"could not read the file: {error.strerror or error}", *notes],
                simple_page(stage, "Your file could not be read."),
            )
    folder = Path(tempfile.mkdtemp(prefix=f"{stage[:2]}-", dir=grader.folder / "jobs"))
    try:
        result = _run(
            folder,
            notebook,
            Job(stage, str(grader.template), limits, grader.sandbox, grader.kernel_socket or "", tuple(notes)),
            grader,
            info,
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    result.seconds = round(time.monotonic() - started, 2)
    return result


def _run(folder: Path, notebook: bytes, job: Job, grader: Grader, info: StageInfo) -> GradeResult:
    """The worker process for one job; its result, or an `error`/`timeout` result when it failed."""
    (folder / NOTEBOOK_FILE).write_bytes(notebook)
    (folder / JOB_FILE).write_text(job.to_json(), encoding="utf-8")
    log_file = folder / "worker.log"
    hard_limit = job.limits.notebook_timeout + HARD_LIMIT_MARGIN
    # No TMPDIR of the job's: a kernel without the sandbox inherits it, and the job folder is among the
    # places a kernel may not open (integrity checks).
    env = {
        "AUTOGRADER_RUN": grader.run_marker,
        # nbgrader runs `alembic` when it creates a gradebook: this Python's bin/ first on PATH
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
    }
    ending = run_worker(
        WORKER, [str(folder)], log_file=log_file, hard_limit=hard_limit, env=env, server=grader.worker_socket
    )
    worker_log = log_file.read_text(encoding="utf-8", errors="replace") if log_file.exists() else ""
    result_file = folder / RESULT_FILE
    result = None
    if ending.code == 0 and result_file.exists():
        try:
            result = GradeResult.from_dict(json.loads(result_file.read_text(encoding="utf-8")))
        except (ValueError, TypeError, KeyError) as error:
            worker_log += f"\nunreadable result: {error}\n"
    if result is None:
        status = Status.TIMEOUT if ending.timed_out else Status.ERROR
        return GradeResult(
            job.stage,
            status,
            0.0,
            info.max_score,
            untouched_tests(info, "not run"),
            [f"grading failed: {ending.describe(hard_limit)}", *job.notes],
            simple_page(job.stage, UNGRADED),
            log=worker_log[-MAX_LOG:],
        )
    feedback, autograded = folder / FEEDBACK_FILE, folder / AUTOGRADED_FILE
    result.feedback_html = (
        feedback.read_text(encoding="utf-8") if feedback.exists() else simple_page(job.stage, UNGRADED)
    )
    result.autograded_notebook = autograded.read_bytes() if autograded.exists() else None
    if result.status == Status.ERROR:
        result.log = worker_log[-MAX_LOG:]
    return result
