"""Grading one student's notebook: a fresh nbgrader workspace in a fresh process, and its status.

`grade_notebook(job)` is the unit of work: it reads and normalises the notebook (autograder/submission.py),
scans it and injects the integrity checks (autograder/integrity.py), runs nbgrader's autograde in a
workspace that holds only a copy of the class's gradebook (autograder/workspace.py), under the limits of
autograder/limits.py, in the sandbox when there is one (autograder/sandbox.py). It then reads what
happened (autograder/outcome.py): takes the credit of tests defeated by tampering away in the gradebook
(a manual score of 0, so nbgrader's formgrader and feedback agree), cleans the notebook for the student
(no check cells, no tracebacks of hidden tests) and renders nbgrader's feedback page.

`run_job(job)` runs that in its own process (`python -m autograder.grade JOB.json RESULT.json`; the grader
forks the same from a warm server instead, autograder/warm_jobs.py), which is a child subreaper: whatever the kernel left running is killed when the notebook is done. A crash of that
process yields an `error` row; it never stops the other notebooks. Statuses (one per notebook):

  graded       every cell ran (tests may have failed)
  flagged      tampering found: the tests it could have defeated get no credit; review by hand
  timeout      a cell or the whole notebook ran out of time; the cells after it did not run
  kernel_died  the kernel crashed or exited (segfault, os._exit, memory); the cells after it did not run
  unreadable   the file is not a notebook
  missing      the student handed in no notebook for this stage
  error        the grader itself failed on this notebook (the detail says how)
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import traceback
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from time import monotonic

from autograder import integrity
from autograder.course import ROOT
from autograder.limits import KERNEL_ENV, Limits, job_config, limited_kernel, sandbox_kernel
from autograder.outcome import (StageInfo, TestResult, analyse, feedback_notebook, gradebook_cells, score_tests,
                                simple_feedback, tainted_tests)

STUDENT = "student"   # the id inside each one-notebook workspace; the real id never reaches the kernel
STATUSES = ("graded", "flagged", "timeout", "kernel_died", "unreadable", "missing", "error")


@dataclass
class NotebookResult:
    student_id: str
    notebook: str
    status: str
    score: float
    max_score: float
    detail: str = ""
    tests: list[TestResult] = field(default_factory=list)
    seconds: float = 0.0
    cells: dict = field(default_factory=dict)   # the gradebook's values per grade_id (for the class gradebook)

    @classmethod
    def from_dict(cls, data: dict) -> "NotebookResult":
        tests = [TestResult(**t) for t in data.pop("tests", [])]
        return cls(tests=tests, **data)


@dataclass
class Job:
    student_id: str
    stage: str
    source: str | None            # the notebook file to grade; None: missing
    template: str                 # the class's template workspace (gradebook with every stage)
    feedback_file: str            # where the student's feedback page goes
    scratch: str                  # an empty folder of this job's own, deleted afterwards
    limits: Limits = Limits()
    sandbox: bool = False
    notes: tuple = ()             # what collecting found (e.g. "matched by content")
    instructor_copy: str = ""     # where the autograded notebook goes for the class's nbgrader course
    warm_kernels: str = ""        # socket of the run's warm-kernel server (sandbox only; "" = fresh kernels)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> "Job":
        data = json.loads(text)
        data["limits"] = Limits(**data["limits"])
        data["notes"] = tuple(data["notes"])
        return cls(**data)


# -- the unit of work -----------------------------------------------------------------------------------

def grade_notebook(job: Job) -> NotebookResult:
    """Grade one notebook; never raises (a failure of the grader is an `error` result)."""
    start = monotonic()
    try:
        result = _grade(job)
    except Exception as error:  # the grader's own failure must not lose the row
        detail = f"grader error: {type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
        info_max = 0.0
        try:
            info_max = StageInfo.load(Path(job.template), job.stage).max_score
        except Exception:
            pass
        result = NotebookResult(job.student_id, job.stage, "error", 0.0, info_max, detail)
        simple_feedback(Path(job.feedback_file), job.stage,
                        "Your notebook could not be graded automatically; your instructor will look at it.")
        traceback.print_exc()
    result.seconds = round(monotonic() - start, 2)
    return result


def _log(message: str) -> None:
    """A line in the job's log (kept in DIR/logs/ when the notebook ends in `error`)."""
    print(f"[{monotonic() - _STARTED:6.1f} s] {message}", file=sys.stderr, flush=True)


_STARTED = monotonic()


def _grade(job: Job) -> NotebookResult:
    import nbformat

    from autograder.submission import UnreadableNotebook, normalise, read_submission
    from autograder.workspace import Workspace

    template = Workspace(job.template)
    info = StageInfo.load(template.root, job.stage)
    notes = list(job.notes)
    feedback = Path(job.feedback_file)
    if job.source is None:
        simple_feedback(feedback, job.stage, f"No notebook {job.stage} was found in your submission.")
        return NotebookResult(job.student_id, job.stage, "missing", 0.0, info.max_score, "; ".join(notes),
                              _untouched(info, "missing"))
    try:
        notebook, read_notes = read_submission(Path(job.source))
    except UnreadableNotebook as error:
        simple_feedback(feedback, job.stage, f"Your file could not be graded: {error}.")
        return NotebookResult(job.student_id, job.stage, "unreadable", 0.0, info.max_score,
                              "; ".join([str(error)] + notes), _untouched(info, "not run"))
    normalised = normalise(notebook, info.release)
    notes += read_notes + normalised.notes
    findings = integrity.scan_notebook(normalised.notebook.cells, normalised.student_cells())
    scratch = Path(job.scratch)
    workspace = Workspace.from_template(template, scratch / "course", job_config(job.limits))
    protected = [str(workspace.root), str(ROOT), str(template.root.parent)]
    graded = integrity.inject_checks(normalised.notebook, protected)
    submitted = workspace.submitted_notebook(STUDENT, job.stage)
    submitted.parent.mkdir(parents=True)
    nbformat.write(graded, submitted)

    if job.sandbox:
        extra_args, extra_env = sandbox_kernel(scratch / "kernel", job.limits, job.warm_kernels or None)
    else:
        extra_args, extra_env = limited_kernel(scratch / "kernel", job.limits)
    os.environ.update(KERNEL_ENV)
    os.environ.update(extra_env)
    os.environ["IPYTHONDIR"] = str(scratch / "ipython")  # no startup files from an earlier kernel
    os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    api = workspace.api(extra_args)
    _log(f"autograding {job.stage} of {job.student_id}")
    outcome = api.autograde(job.stage, STUDENT, force=True, create=True)
    _log(f"autograde done ({'ok' if outcome['success'] else 'failed'}); {stop_leftover_processes()} leftover processes killed")
    autograded_file = workspace.autograded_notebook(STUDENT, job.stage)
    if not outcome["success"] or not autograded_file.exists():
        raise RuntimeError(_nbgrader_failure(outcome))
    autograded = nbformat.read(autograded_file, as_version=4)
    analysis = analyse(autograded, findings)
    tainted = tainted_tests(autograded, analysis)
    tests = score_tests(workspace, job.stage, STUDENT, info, tainted, analysis.not_run)
    autograded_file.chmod(0o644)  # nbgrader leaves it read-only: only root could rewrite it
    nbformat.write(feedback_notebook(autograded, analysis, tainted, notes), autograded_file)
    if job.instructor_copy:
        Path(job.instructor_copy).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(autograded_file, job.instructor_copy)
    _log("generating feedback")
    made = api.generate_feedback(job.stage, STUDENT, force=True)
    _log("feedback done")
    page = workspace.feedback_page(STUDENT, job.stage)
    if made["success"] and page.exists():
        feedback.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(page, feedback)
    else:  # the grades stand; only the page is missing
        notes.append(f"no feedback page: {_nbgrader_failure(made)}")
        simple_feedback(feedback, job.stage, "Your feedback page could not be made; "
                        "your instructor has your grade.")
    detail = [f"flagged: {reason}" for reason in analysis.flags] + analysis.events + notes
    score = sum(t.points or 0.0 for t in tests if t.kind != "written answer")
    return NotebookResult(job.student_id, job.stage, analysis.status, round(score, 4), info.max_score,
                          "; ".join(detail), tests, cells=gradebook_cells(workspace, job.stage, STUDENT))


def _untouched(info: StageInfo, result: str) -> list[TestResult]:
    return ([TestResult(gid, "hidden test" if hidden else "test", 0.0, points, result)
             for gid, points, hidden in info.tests]
            + [TestResult(gid, "written answer", 0.0, points, "no answer") for gid, points in info.answers])


def _nbgrader_failure(outcome: dict) -> str:
    text = (outcome.get("error") or "") + "\n" + (outcome.get("log") or "")
    print(text, file=sys.stderr)  # the whole story goes to the job's log
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    exceptions = [line for line in lines if re.match(r"^[\w.]+(Error|Exception|Notebook)\b", line)
                  and "NbGraderException" not in line]
    return f"nbgrader failed: {(exceptions or lines or ['no output'])[-1][:300]}"


# -- processes ------------------------------------------------------------------------------------------

def become_subreaper() -> None:
    """Linux: orphaned descendants (a kernel's setsid children) are re-parented to this process."""
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
        except (OSError, AttributeError):
            pass


def stop_leftover_processes() -> int:
    """Kill every descendant of this process (the kernel's leftovers); returns how many there were."""
    import psutil

    try:
        children = psutil.Process().children(recursive=True)
    except psutil.Error:
        return 0
    for child in children:
        try:
            what = f"{child.name()} ({child.status()})"
        except psutil.Error:
            what = "?"
        print(f"stopping leftover process {child.pid}: {what}", file=sys.stderr)
        try:
            child.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(children, timeout=10)
    return len(children)


_RUNNING: set = set()  # worker processes of run_job that have not ended yet
_STOPPING = False      # set by stop_all_jobs: a worker registered after it is killed at once


def stop_all_jobs() -> None:
    """Kill every running worker (and its nbgrader and kernel): the instructor pressed Ctrl-C."""
    global _STOPPING
    _STOPPING = True
    for process in list(_RUNNING):
        _kill_group(process)


def register(process) -> None:
    """Add a started worker to _RUNNING; if Ctrl-C came first, kill it now (no job outlives stop_all_jobs)."""
    _RUNNING.add(process)
    if _STOPPING:
        _kill_group(process)


def run_job(job: Job, run_marker: str = "") -> NotebookResult:
    """grade_notebook(job) in a fresh process with a hard time limit; never raises."""
    scratch = Path(job.scratch)
    scratch.mkdir(parents=True, exist_ok=True)
    job_file, result_file = scratch / "job.json", scratch / "result.json"
    job_file.write_text(job.to_json(), encoding="utf-8")
    env = dict(os.environ, AUTOGRADER_RUN=run_marker, PYTHONPATH=str(ROOT))
    hard_limit = job.limits.notebook_timeout + 300
    process = subprocess.Popen([sys.executable, "-m", "autograder.grade", str(job_file), str(result_file)],
                               cwd=scratch, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               start_new_session=True)
    register(process)
    try:
        log, _ = process.communicate(timeout=hard_limit)
    except subprocess.TimeoutExpired:
        _kill_group(process)
        log, _ = process.communicate()
        return _failed(job, "timeout", f"grading took longer than {hard_limit} s and was stopped")
    finally:
        _RUNNING.discard(process)
    (scratch.parent / f"{scratch.name}.log").write_bytes(log or b"")
    if process.returncode != 0 or not result_file.exists():
        return _failed(job, "error", f"the grading process ended with exit code {process.returncode}")
    try:
        return NotebookResult.from_dict(json.loads(result_file.read_text(encoding="utf-8")))
    except (ValueError, TypeError) as error:
        return _failed(job, "error", f"the grading process left an unreadable result ({error})")


def _kill_group(process) -> None:
    import signal

    try:
        os.killpg(process.pid, signal.SIGKILL)
    except OSError:
        pass


def _failed(job: Job, status: str, detail: str) -> NotebookResult:
    try:
        max_score = StageInfo.load(Path(job.template), job.stage).max_score
    except Exception:
        max_score = 0.0
    simple_feedback(Path(job.feedback_file), job.stage,
                    "Your notebook could not be graded automatically; your instructor will look at it.")
    return NotebookResult(job.student_id, job.stage, status, 0.0, max_score, detail)


def _main(argv: list[str]) -> int:
    """`python -m autograder.grade JOB.json RESULT.json` (what run_job starts)."""
    become_subreaper()
    os.environ.pop("PYTHONPATH", None)  # it found this package; kernels need not
    warnings.filterwarnings("ignore", module="nbgrader")  # SQLAlchemy's session warnings: noise in the log
    job = Job.from_json(Path(argv[1]).read_text(encoding="utf-8"))
    os.chdir(job.scratch)
    tempfile.tempdir = job.scratch
    result = grade_notebook(job)
    stop_leftover_processes()
    Path(argv[2]).write_text(json.dumps(asdict(result)), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv))
