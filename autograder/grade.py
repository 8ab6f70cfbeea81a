"""Grading one student's notebook: a fresh nbgrader workspace in a fresh process, and its status.

`grade_notebook(job)` is the unit of work: it reads and normalises the notebook (autograder/submission.py),
scans it and injects the integrity checks (autograder/integrity.py), runs nbgrader's autograde in a
workspace that holds only a copy of the class's gradebook (autograder/workspace.py), with GuardedExecute's
limits, in the sandbox when there is one (autograder/sandbox.py), else in a kernel with memory and file
size limits. It then takes the credit of tests defeated by tampering away in the gradebook (a manual score
of 0, so nbgrader's formgrader and feedback agree), cleans the notebook for the student (no check cells,
no tracebacks of hidden tests) and renders nbgrader's feedback page.

`run_job(job)` runs that in its own process (`python -m autograder.grade JOB.json RESULT.json`), which is
a child subreaper: whatever the kernel left running is killed when the notebook is done. A crash of that
process yields an `error` row; it never stops the other notebooks. Statuses (one per notebook):

  graded       every cell ran (tests may have failed)
  flagged      tampering found: the tests it could have defeated get no credit; review by hand
  timeout      a cell or the whole notebook ran out of time; the cells after it did not run
  kernel_died  the kernel crashed or exited (segfault, os._exit, memory); the cells after it did not run
  unreadable   the file is not a notebook
  missing      the student handed in no notebook for this stage
  error        the grader itself failed on this notebook (the detail says how)
"""
import copy
import html
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
from autograder.integrity import META

STUDENT = "student"   # the id inside each one-notebook workspace; the real id never reaches the kernel
STATUSES = ("graded", "flagged", "timeout", "kernel_died", "unreadable", "missing", "error")
HIDDEN_MARK = "### BEGIN HIDDEN TESTS"
KERNEL_ENV = {  # one thread per kernel: parallel workers do not fight over cores, results do not depend on --jobs
    "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "PYTHONHASHSEED": "0",
    "PYTHONNOUSERSITE": "1", "PYDEVD_DISABLE_FILE_VALIDATION": "1",
}
LIMITED_KERNEL = "qkv-limited"


@dataclass(frozen=True)
class Limits:
    """What one notebook may use. Sizes in MB, times in seconds."""
    cell_timeout: int = 180       # one cell (the training stage needs about 30 s on a slow machine)
    notebook_timeout: int = 600   # all cells of a notebook together
    memory: int = 4096            # address space of the kernel (torch needs about 1 GB)
    output: int = 20              # output kept per notebook (text per cell: 100,000 characters)
    file_size: int = 100          # largest file the kernel may write

    def __post_init__(self):
        for name, value in asdict(self).items():
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"the limit {name} must be a positive whole number, not {value!r}")


@dataclass
class TestResult:
    name: str
    kind: str                  # "test", "hidden test" or "written answer"
    points: float | None       # None: graded by hand
    max_points: float
    result: str                # passed, failed, not run, no credit (tampering), graded by hand, no answer


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

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> "Job":
        data = json.loads(text)
        data["limits"] = Limits(**data["limits"])
        data["notes"] = tuple(data["notes"])
        return cls(**data)


# -- what the course's notebook of a stage holds ---------------------------------------------------------

@dataclass
class StageInfo:
    release: object              # nbgrader's student version (NotebookNode)
    tests: list[tuple[str, float, bool]]   # (grade_id, points, hidden) in notebook order
    answers: list[tuple[str, float]]       # written answers graded by hand

    @classmethod
    def load(cls, template: Path, stage: str) -> "StageInfo":
        import nbformat

        release = nbformat.read(template / "release" / stage / f"{stage}.ipynb", as_version=4)
        source = nbformat.read(template / "source" / stage / f"{stage}.ipynb", as_version=4)
        tests, answers = [], []
        for cell in source.cells:
            meta = cell.metadata.get("nbgrader", {})
            if not meta.get("grade"):
                continue
            if meta.get("solution"):
                answers.append((meta["grade_id"], float(meta.get("points", 0))))
            elif cell.cell_type == "code":
                tests.append((meta["grade_id"], float(meta.get("points", 0)), HIDDEN_MARK in cell.source))
        return cls(release, tests, answers)

    @property
    def max_score(self) -> float:
        return sum(points for _, points, _ in self.tests)


def stage_grade_ids(template: Path, stage: str) -> set[str]:
    info = StageInfo.load(template, stage)
    return {gid for gid, *_ in info.tests} | {gid for gid, _ in info.answers}


# -- building the notebook that nbgrader runs --------------------------------------------------------

def inject_checks(notebook, protected: list[str]):
    """A copy of `notebook` with the baseline cell first and a check cell before and after every test.
    Every original cell gets metadata autograder.position (its index in `notebook`)."""
    from nbformat import v4

    result = copy.deepcopy(notebook)
    cells = []
    nonce = integrity.new_nonce()
    first = v4.new_code_cell(integrity.baseline_source(protected, nonce))
    first.metadata[META] = {"role": "check", "nonce": nonce, "check": "baseline"}
    cells.append(first)
    for position, cell in enumerate(result.cells):
        cell.metadata[META] = {"position": position}
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        test = cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("grade") \
            and not cell.metadata.get("nbgrader", {}).get("solution")
        if test:
            cells.append(_check_cell("before", gid))
        cells.append(cell)
        if test:
            cells.append(_check_cell("after", gid))
    result.cells = cells
    return result


def _check_cell(when: str, gid: str):
    from nbformat import v4

    nonce = integrity.new_nonce()
    cell = v4.new_code_cell(integrity.check_source(nonce))
    cell.metadata[META] = {"role": "check", "nonce": nonce, "check": when, "test": gid}
    return cell


def job_config(limits: Limits) -> str:
    """Lines for the one-notebook workspace's nbgrader_config.py."""
    preprocessors = ["autograder.guarded_execute.GuardedExecute", "nbgrader.preprocessors.IgnorePattern",
                     "nbconvert.preprocessors.ClearMetadataPreprocessor", "nbgrader.preprocessors.LimitOutput",
                     "nbgrader.preprocessors.SaveAutoGrades", "nbgrader.preprocessors.AssignLatePenalties",
                     "nbgrader.preprocessors.CheckCellMetadata"]
    return (f"c.Autograde.autograde_preprocessors = {preprocessors!r}\n"
            "c.OverwriteCells.add_missing_cells = True\n"
            f"c.GuardedExecute.timeout = {limits.cell_timeout}\n"
            f"c.GuardedExecute.notebook_timeout = {limits.notebook_timeout}\n"
            f"c.GuardedExecute.max_notebook_output = {limits.output * 1_000_000}\n"
            "c.GuardedExecute.startup_timeout = 120\n"
            "c.GuardedExecute.extra_arguments = ['--HistoryManager.hist_file=:memory:']\n")


def limited_kernel(scratch: Path, limits: Limits) -> tuple[list[str], dict[str, str]]:
    """Without the sandbox: a kernelspec that sets the memory and file size limits, then starts ipykernel."""
    spec_dir = scratch / "jupyter" / "kernels" / LIMITED_KERNEL
    spec_dir.mkdir(parents=True, exist_ok=True)
    setup = ("import os, resource, sys; "
             f"resource.setrlimit(resource.RLIMIT_AS, ({limits.memory * 2**20}, {limits.memory * 2**20})); "
             f"resource.setrlimit(resource.RLIMIT_FSIZE, ({limits.file_size * 2**20}, {limits.file_size * 2**20})); "
             "resource.setrlimit(resource.RLIMIT_CORE, (0, 0)); "
             "os.execv(sys.executable, [sys.executable, '-m', 'ipykernel_launcher'] + sys.argv[1:])")
    spec = {"argv": [sys.executable, "-I", "-c", setup, "-f", "{connection_file}"],
            "display_name": "Python 3 (limits)", "language": "python", "interrupt_mode": "signal",
            "metadata": {"debugger": False}}
    (spec_dir / "kernel.json").write_text(json.dumps(spec, indent=1), encoding="utf-8")
    return [f"--ExecutePreprocessor.kernel_name={LIMITED_KERNEL}"], {"JUPYTER_PATH": str(scratch / "jupyter")}


def sandbox_kernel(scratch: Path, limits: Limits) -> tuple[list[str], dict[str, str]]:
    from autograder import sandbox

    sandbox_limits = sandbox.Limits(memory=limits.memory, file_size=limits.file_size,
                                    cpu_seconds=limits.notebook_timeout + 60)
    return sandbox.kernel_setup(scratch, sandbox_limits)


# -- after nbgrader ran ---------------------------------------------------------------------------------

@dataclass
class Analysis:
    flags: list[str] = field(default_factory=list)      # reasons for `flagged`
    events: list[str] = field(default_factory=list)     # timeouts, kernel deaths, truncated output
    status: str = "graded"
    taint_from: int | None = None                       # tests at this cell index or later get no credit
    not_run: set = field(default_factory=set)           # grade_ids of tests that did not run


def _label(cell, number: int) -> str:
    gid = cell.metadata.get("nbgrader", {}).get("grade_id")
    return f"cell {number}" + (f" ({gid})" if gid else "")


def analyse(notebook, findings: list) -> Analysis:
    """Read the events and verdicts GuardedExecute recorded, combine them with the static findings."""
    result = Analysis()
    by_position = {}
    number = 0
    for index, cell in enumerate(notebook.cells):
        record = cell.metadata.get(META, {})
        if record.get("role") != "check":
            number += 1
            by_position[record.get("position")] = index
        event = record.get("event")
        label = "a check cell of the grader" if record.get("role") == "check" else _label(cell, number)
        if event == "kernel_died":
            result.events.append(f"the kernel died in {label} ({record.get('detail', '')})")
            result.status = "kernel_died"
        elif event == "timeout":
            result.events.append(f"{label} ran longer than {record.get('detail', 'its time limit')}")
            result.status = "timeout"
        elif event == "output_truncated":
            result.events.append(f"output of {label} truncated")
        if event in ("not_run", "timeout", "kernel_died"):
            gid = cell.metadata.get("nbgrader", {}).get("grade_id")
            if gid:
                result.not_run.add(gid)
        if record.get("role") == "check":
            state, detail = integrity.read_verdict(cell, record.get("nonce", ""))
            if state in ("tampered", "missing"):
                if detail not in result.flags:
                    result.flags.append(detail)
                # the test just before an after-check ran with the tampering in place
                if result.taint_from is None:
                    result.taint_from = index - 1
    for finding in findings:
        index = by_position.get(finding.cell)
        if finding.reason not in result.flags:
            result.flags.append(finding.reason)
        if index is not None and (result.taint_from is None or index + 1 < result.taint_from):
            result.taint_from = index + 1  # the tests after this cell
    if result.flags:
        result.status = "flagged"
    return result


def tainted_tests(notebook, analysis: Analysis) -> set[str]:
    """grade_ids of tests that ran at or after the first point of tampering (or whose after-check failed)."""
    if analysis.taint_from is None:
        return set()
    tests = set()
    for index, cell in enumerate(notebook.cells):
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade") and not meta.get("solution") and cell.cell_type == "code":
            if index >= analysis.taint_from:
                tests.add(meta["grade_id"])
    return tests


def score_tests(workspace, stage: str, info: StageInfo, tainted: set[str], not_run: set[str]) -> list[TestResult]:
    """Per-test results from the gradebook; tainted tests that passed get a manual score of 0 there."""
    from nbgrader.api import Gradebook

    results = []
    with Gradebook(workspace.db_url) as gradebook:
        grades = {g.cell.name: g for g in gradebook.find_submission_notebook(stage, stage, STUDENT).grades}
        for gid, points, hidden in info.tests:
            grade = grades.get(gid)
            auto = grade.auto_score if grade is not None and grade.auto_score is not None else 0.0
            if gid in tainted and auto > 0:
                grade.manual_score = 0.0
                grade.needs_manual_grade = True
                outcome, auto = "no credit (tampering)", 0.0
            elif gid in not_run:
                outcome = "not run"
            else:
                outcome = "passed" if auto >= points else "failed"
            results.append(TestResult(gid, "hidden test" if hidden else "test", auto, points, outcome))
        for gid, points in info.answers:
            grade = grades.get(gid)
            blank = grade is not None and grade.auto_score == 0
            results.append(TestResult(gid, "written answer", 0.0 if blank else None, points,
                                      "no answer" if blank else "graded by hand"))
        gradebook.db.commit()
    return results


def gradebook_cells(workspace, stage: str) -> dict:
    """{grade_id: scores and flags} of the one submission in the workspace's gradebook."""
    from nbgrader.api import Gradebook

    with Gradebook(workspace.db_url) as gradebook:
        notebook = gradebook.find_submission_notebook(stage, stage, STUDENT)
        cells = {g.cell.name: {"auto_score": g.auto_score, "manual_score": g.manual_score,
                               "needs_manual_grade": bool(g.needs_manual_grade)} for g in notebook.grades}
        for comment in notebook.comments:
            cells.setdefault(comment.cell.name, {})["auto_comment"] = comment.auto_comment
    return cells


def feedback_notebook(notebook, analysis: Analysis, tainted: set[str], notes: list[str]):
    """The autograded notebook as the student may see it: check cells removed, hidden tests' error
    details (tracebacks show their code) and warnings removed, the grader's notes added."""
    from nbformat import v4

    cells = []
    for cell in notebook.cells:
        record = cell.metadata.pop(META, {})
        if record.get("role") == "check":
            continue
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.cell_type == "code" and HIDDEN_MARK in cell.source:
            outputs = []
            for output in cell.outputs:
                if output.output_type == "error":
                    output.traceback = [f"{output.ename}: {output.evalue}",
                                        "(the details of a failing hidden test are not shown)"]
                elif output.output_type == "stream" and output.name == "stderr":
                    continue
                outputs.append(output)
            cell.outputs = outputs
        if gid in tainted:
            cells.append(v4.new_markdown_cell("**No credit for the next test:** the grader found code that can "
                                              "make tests pass without being right (see the top of this page). "
                                              "Your instructor will review this notebook."))
        cells.append(cell)
    lines = [f"- {text}" for text in analysis.flags + analysis.events + notes]
    if lines:
        title = ("**Flagged for review by your instructor.** The grader found:" if analysis.flags
                 else "**Notes from the grader:**")
        cells.insert(0, v4.new_markdown_cell(title + "\n\n" + "\n".join(lines)))
    notebook.cells = cells
    return notebook


def simple_feedback(path: Path, student_id: str, stage: str, message: str) -> None:
    """A short page for a notebook that nbgrader could not grade."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>{html.escape(stage)}</title></head>"
                    f"<body><h1>{html.escape(stage)}</h1><p>{html.escape(message)}</p></body></html>\n",
                    encoding="utf-8")


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
        simple_feedback(Path(job.feedback_file), job.student_id, job.stage,
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
        simple_feedback(feedback, job.student_id, job.stage, f"No notebook {job.stage} was found in your submission.")
        return NotebookResult(job.student_id, job.stage, "missing", 0.0, info.max_score, "; ".join(notes),
                              _untouched(info, "missing"))
    try:
        notebook, read_notes = read_submission(Path(job.source))
    except UnreadableNotebook as error:
        simple_feedback(feedback, job.student_id, job.stage, f"Your file could not be graded: {error}.")
        return NotebookResult(job.student_id, job.stage, "unreadable", 0.0, info.max_score,
                              "; ".join([str(error)] + notes), _untouched(info, "not run"))
    normalised = normalise(notebook, info.release)
    notes += read_notes + normalised.notes
    findings = integrity.scan_notebook(normalised.notebook.cells, normalised.student_cells())
    scratch = Path(job.scratch)
    workspace = Workspace.from_template(template, scratch / "course", job_config(job.limits))
    protected = [str(workspace.root), str(ROOT), str(template.root.parent)]
    graded = inject_checks(normalised.notebook, protected)
    submitted = workspace.submitted_notebook(STUDENT, job.stage)
    submitted.parent.mkdir(parents=True)
    nbformat.write(graded, submitted)

    kernel_setup = sandbox_kernel if job.sandbox else limited_kernel
    extra_args, extra_env = kernel_setup(scratch / "kernel", job.limits)
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
    tests = score_tests(workspace, job.stage, info, tainted, analysis.not_run)
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
        simple_feedback(feedback, job.student_id, job.stage, "Your feedback page could not be made; "
                        "your instructor has your grade.")
    detail = [f"flagged: {reason}" for reason in analysis.flags] + analysis.events + notes
    score = sum(t.points or 0.0 for t in tests if t.kind != "written answer")
    return NotebookResult(job.student_id, job.stage, analysis.status, round(score, 4), info.max_score,
                          "; ".join(detail), tests, cells=gradebook_cells(workspace, job.stage))


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


def stop_all_jobs() -> None:
    """Kill every running worker (and its nbgrader and kernel): the instructor pressed Ctrl-C."""
    for process in list(_RUNNING):
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
    _RUNNING.add(process)
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
    simple_feedback(Path(job.feedback_file), job.student_id, job.stage,
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
