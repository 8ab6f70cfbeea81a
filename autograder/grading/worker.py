"""Inside the fresh worker process that grades one notebook (started by core.grade_notebook).

`python -m autograder.grading.worker JOB_FOLDER` (or forked warm by autograder/isolation/warm_jobs.py):
JOB_FOLDER holds `job.json` (the stage, the template, the limits, the kernel) and `submitted.ipynb` (the
student's bytes). The worker reads and normalises the notebook (submission.py), scans it and injects the
integrity checks (integrity.py), runs nbgrader's autograde in a workspace of its own that holds only a
copy of the template's gradebook (workspace.py), with the kernel in the sandbox when there is one. It then
reads what happened (outcome.py): takes the credit of tests defeated by tampering away in the gradebook (a
manual score of 0, so nbgrader's formgrader and feedback agree), cleans the notebook for the student and
renders nbgrader's feedback page. It writes `result.json`, `feedback.html` and `autograded.ipynb` to
JOB_FOLDER. The worker is a child subreaper: whatever the kernel left running is killed at the end.
"""

import json
import logging
import os
import re
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from time import monotonic

from autograder.course import ROOT
from autograder.grading import integrity
from autograder.grading.feedback import simple_page
from autograder.grading.outcome import StageInfo, gradebook_cells, score_tests
from autograder.grading.preprocessors import KEY, InjectIntegrityChecks, RecordTampering, StudentFeedback
from autograder.grading.result import GradeResult, Status, TestResult
from autograder.isolation.limits import Limits

STUDENT = "student"  # the id inside each one-notebook workspace; the real id never reaches the kernel
JOB_FILE, NOTEBOOK_FILE, RESULT_FILE = "job.json", "submitted.ipynb", "result.json"
FEEDBACK_FILE, AUTOGRADED_FILE = "feedback.html", "autograded.ipynb"
log = logging.getLogger("autograder.worker")


@dataclass(frozen=True)
class Job:
    """What the worker is asked to do (job.json in the job folder)."""

    stage: str
    template: str  # the template workspace (gradebook with the stage)
    limits: Limits
    sandbox: bool
    warm_kernels: str = ""  # socket of a warm-kernel server ("" = fresh kernels)
    notes: tuple = ()  # what collecting found, shown to the student too

    def to_json(self) -> str:
        return json.dumps(
            {
                "stage": self.stage,
                "template": self.template,
                "limits": self.limits.to_dict(),
                "sandbox": self.sandbox,
                "warm_kernels": self.warm_kernels,
                "notes": list(self.notes),
            }
        )

    @classmethod
    def from_json(cls, text: str) -> "Job":
        data = json.loads(text)
        data["limits"] = Limits.from_dict(data["limits"])
        data["notes"] = tuple(data["notes"])
        return cls(**data)


def untouched_tests(info: StageInfo, result: str) -> list[TestResult]:
    """Every test of the stage with 0 points and the same result (a notebook that did not run)."""
    return [
        TestResult(gid, "hidden test" if hidden else "test", 0.0, points, result) for gid, points, hidden in info.tests
    ] + [TestResult(gid, "written answer", 0.0, points, "no answer") for gid, points in info.answers]


def grade(job: Job, folder: Path, timings: dict) -> GradeResult:
    """Grade folder/submitted.ipynb in this process; writes the feedback page and the autograded notebook.
    timings: filled with the seconds of each phase since the worker started."""
    import nbformat

    from autograder.grading.submission import UnreadableNotebook, normalise, read_submission
    from autograder.grading.workspace import Workspace

    template = Workspace(job.template)
    info = StageInfo.load(template.root, job.stage)
    notes = list(job.notes)
    try:
        notebook, read_notes = read_submission(folder / NOTEBOOK_FILE)
    except UnreadableNotebook as error:
        (folder / FEEDBACK_FILE).write_text(
            simple_page(job.stage, f"Your file could not be graded: {error}."), encoding="utf-8"
        )
        return GradeResult(
            job.stage, Status.UNREADABLE, 0.0, info.max_score, untouched_tests(info, "not run"), [str(error), *notes]
        )
    normalised = normalise(notebook, info.release)
    notes += read_notes + normalised.notes
    findings = integrity.scan_notebook(normalised.notebook.cells, normalised.student_cells())
    workspace = Workspace.from_template(template, folder / "course")
    protected = [str(workspace.root), str(ROOT), str(template.root.parent)]
    graded, _ = InjectIntegrityChecks(protected=protected, sandbox=job.sandbox).preprocess(normalised.notebook, {})
    submitted = workspace.submitted_notebook(STUDENT, job.stage)
    submitted.parent.mkdir(parents=True)
    nbformat.write(graded, submitted)

    api = workspace.api(_autograde_config(job, folder / "kernel"))
    timings["setup"] = _since_start()
    log.info("autograding %s", job.stage)
    outcome = api.autograde(job.stage, STUDENT, force=True, create=True)
    log.info(
        "autograde done (%s); %d leftover processes killed",
        "ok" if outcome["success"] else "failed",
        stop_leftover_processes(),
    )
    timings["autograde"] = _since_start()
    autograded_file = workspace.autograded_notebook(STUDENT, job.stage)
    if not outcome["success"] or not autograded_file.exists():
        raise RuntimeError(nbgrader_failure(outcome))
    autograded = nbformat.read(autograded_file, as_version=4)
    autograded, resources = RecordTampering().preprocess(autograded, {KEY: {"findings": findings, "notes": notes}})
    analysis, tainted = resources[KEY]["analysis"], resources[KEY]["tainted"]
    tests = score_tests(workspace, job.stage, STUDENT, info, tainted, analysis.not_run, analysis.test_notes)
    autograded_file.chmod(0o644)  # nbgrader leaves it read-only: only root could rewrite it
    nbformat.write(StudentFeedback().preprocess(autograded, resources)[0], autograded_file)
    (folder / AUTOGRADED_FILE).write_bytes(autograded_file.read_bytes())
    timings["analysis"] = _since_start()
    log.info("generating feedback")
    made = api.generate_feedback(job.stage, STUDENT, force=True)
    page = workspace.feedback_page(STUDENT, job.stage)
    if made["success"] and page.exists():
        (folder / FEEDBACK_FILE).write_bytes(page.read_bytes())
    else:  # the grades stand; only the page is missing
        notes.append(f"no feedback page: {nbgrader_failure(made)}")
        (folder / FEEDBACK_FILE).write_text(
            simple_page(job.stage, "Your feedback page could not be made; your instructor has your grade."),
            encoding="utf-8",
        )
    timings["feedback"] = _since_start()
    log.info("feedback done")
    detail = (
        [f"flagged: {reason}" for reason in analysis.flags]
        + analysis.events
        + [f"note: {text}" for text in analysis.notes]
        + notes
    )
    score = sum(t.points or 0.0 for t in tests if t.kind != "written answer")
    return GradeResult(
        job.stage,
        analysis.status,
        round(score, 4),
        info.max_score,
        tests,
        detail,
        cells=gradebook_cells(workspace, job.stage, STUDENT),
    )


_STARTED = monotonic()


def _since_start() -> float:
    return round(monotonic() - _STARTED, 3)


def _autograde_config(job: Job, kernel_folder: Path):
    """nbgrader settings for this job, with the kernel (sandboxed or limited) set up in kernel_folder."""
    from autograder.grading.config import autograde_config
    from autograder.isolation import sandbox, unsandboxed

    if job.sandbox:
        kernel_args, kernel_env = sandbox.kernel_setup(kernel_folder, job.limits, job.warm_kernels or None)
    else:
        kernel_args, kernel_env = unsandboxed.kernel_setup(kernel_folder, job.limits)
    os.environ.update(kernel_env)  # JUPYTER_PATH: where jupyter_client finds the kernelspec (this process only)
    return autograde_config(job.limits, kernel_args)


def nbgrader_failure(outcome: dict) -> str:
    """One line for an nbgrader call that failed (its whole output goes to the log)."""
    text = (outcome.get("error") or "") + "\n" + (outcome.get("log") or "")
    log.error("%s", text)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    exceptions = [
        line
        for line in lines
        if re.match(r"^[\w.]+(Error|Exception|Notebook)\b", line) and "NbGraderException" not in line
    ]
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
        log.info("stopping leftover process %d: %s", child.pid, what)
        try:
            child.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(children, timeout=10)
    return len(children)


def main(argv: list[str]) -> int:
    """`python -m autograder.grading.worker JOB_FOLDER`; exit code 0 when result.json was written."""
    global _STARTED
    started = _STARTED = monotonic()  # a worker forked warm: its clock starts now, not with the server
    become_subreaper()
    os.environ.pop("PYTHONPATH", None)  # it found this package; kernels need not
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, force=True, format="[%(relativeCreated)7.0f ms] %(name)s: %(message)s"
    )
    warnings.filterwarnings("ignore", module="nbgrader")  # SQLAlchemy's session warnings: noise in the log
    folder = Path(argv[1]).resolve()
    job = Job.from_json((folder / JOB_FILE).read_text(encoding="utf-8"))
    timings: dict = {}
    try:
        result = grade(job, folder, timings)
    except Exception as error:  # the grader's own failure: an `error` row, never a lost one
        log.exception("grading failed")
        first_line = str(error).splitlines()[0] if str(error) else ""
        result = GradeResult(
            job.stage,
            Status.ERROR,
            0.0,
            StageInfo.load(Path(job.template), job.stage).max_score,
            notes=[f"grader error: {type(error).__name__}: {first_line}"],
        )
    stop_leftover_processes()
    result.seconds = round(monotonic() - started, 2)
    result.timings = timings
    (folder / RESULT_FILE).write_text(json.dumps(result.to_dict()), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
