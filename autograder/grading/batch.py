"""`python -m autograder grade SUBMISSIONS`: grade a whole class in one command.

Steps: find the students and their notebooks (collect.py); start a Grader (core.py: the sandbox check, the
template with the stages to grade, the warm servers); grade every (student, stage) with `grade_notebook`,
N at a time; write each feedback page and autograded notebook as it arrives; then the tables and the
summary (report.py) and the class's nbgrader course for Formgrader (classbook.py). Every student found gets
a row per stage, whatever happens to their notebook; the input is only read; the output folder is replaced
only if an earlier run of the grader wrote it. Ctrl-C stops the workers and still writes the tables (the
notebooks not graded: `error`; exit code 130).
"""
import logging
import os
import shutil
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from autograder.course import STAGES, solution_notebook
from autograder.grading.classbook import autograded_copy, course_folder, write_course
from autograder.grading.collect import CollectError, collect
from autograder.grading.core import Grader, SandboxUnavailable, grade_notebook
from autograder.grading.result import GradeResult, Status
from autograder.grading.report import Progress, summary, write_tables
from autograder.isolation.limits import Limits
from autograder.isolation.processes import stop_all_workers
from autograder.grading.roster import write_roster

MARKER = ".autograder-output"
INTERRUPTED = "grading was interrupted"
DEFAULT_OUT = Path("grading-output")
log = logging.getLogger(__name__)


class GradeArgumentError(ValueError):
    """A bad command line: the message is shown as one line."""


@dataclass
class ClassResult:
    """One row of the class: a student's id and the GradeResult of one of their notebooks."""

    student_id: str
    result: GradeResult

    notebook = property(lambda self: self.result.stage)
    status = property(lambda self: self.result.status)
    score = property(lambda self: self.result.score)
    max_score = property(lambda self: self.result.max_score)
    detail = property(lambda self: self.result.detail)
    tests = property(lambda self: self.result.tests)
    seconds = property(lambda self: self.result.seconds)
    cells = property(lambda self: self.result.cells)


@dataclass(frozen=True)
class Task:
    """One notebook to grade: whose, which stage, the file found (None: missing), what collecting noted."""

    student_id: str
    stage: str
    read: object  # a function returning the notebook's bytes, or None
    notes: tuple[str, ...]


def default_jobs() -> int:
    """One worker more than CPUs (a notebook also waits: for nbgrader's messages to the kernel and back), at
    most one per free GB of memory (a kernel with torch takes about 0.5 GB)."""
    import psutil

    free_gb = psutil.virtual_memory().available // 2**30
    return max(1, min((os.cpu_count() or 1) + 1, free_gb))


def stage_grade_ids() -> dict[str, set[str]]:
    """grade_ids of every stage's cells, from the instructor notebooks (to recognise renamed notebooks).
    Plain JSON: these are the course's own files (nbformat's validation would cost a second)."""
    import json

    ids = {}
    for stage in STAGES:
        notebook = json.loads(solution_notebook(stage).read_text(encoding="utf-8"))
        ids[stage] = {c["metadata"]["nbgrader"]["grade_id"] for c in notebook["cells"]
                      if c.get("metadata", {}).get("nbgrader", {}).get("grade_id")}
    return ids


def prepare_output(out: Path, submissions: Path) -> None:
    """Create `out`, or empty it if an earlier run of the grader made it; refuse anything else."""
    out, submissions = out.resolve(), submissions.resolve()
    if submissions.is_dir() and (out == submissions or submissions in out.parents):
        raise GradeArgumentError(f"--out {out} is inside the submissions folder; the input must stay untouched")
    if out.exists() and not out.is_dir():
        raise GradeArgumentError(f"--out {out} is a file, not a folder")
    if out.exists() and any(out.iterdir()) and not (out / MARKER).exists():
        raise GradeArgumentError(f"--out {out} already holds other files; give a new or empty folder")
    out.mkdir(parents=True, exist_ok=True)
    for folder in (out / "feedback", out / "logs", out / "export", course_folder(out)):
        shutil.rmtree(folder, ignore_errors=True)
    for name in ("grades.csv", "tests.csv", "collected.csv", "students.csv", "summary.txt"):
        (out / name).unlink(missing_ok=True)
    (out / MARKER).write_text("Written by `python -m autograder grade`; the next run replaces it.\n", encoding="utf-8")


def choose_stages(requested: str | None, found: set[str]) -> list[str]:
    if requested:
        stages = [s.strip() for s in requested.split(",") if s.strip()]
        unknown = [s for s in stages if s not in STAGES]
        if unknown:
            raise GradeArgumentError(f"--notebooks: unknown notebook(s) {', '.join(unknown)}; "
                                     f"the course has {', '.join(STAGES)}")
        return stages
    return [s for s in STAGES if s in found]


def make_tasks(collection, stages) -> list[Task]:
    """One task per (student, stage), the training stage first (the longest), missing notebooks last."""
    tasks = []
    for student in collection.students.values():
        for stage in stages:
            found = student.notebooks.get(stage)
            notes = list(student.notes)
            if found is not None and found.how == "by content":
                notes.append(f"{Path(found.entry.path).name} recognised as {stage} by its content")
            tasks.append(Task(student.student_id, stage, found.entry.read_limited if found else None, tuple(notes)))
    return sorted(tasks, key=lambda t: (t.read is None, -STAGES.index(t.stage), t.student_id))


def grade_task(task: Task, limits: Limits, grader: Grader) -> GradeResult:
    """grade_notebook for one task; a file that cannot be read is graded as an empty (unreadable) one."""
    notes = list(task.notes)
    data = None
    if task.read is not None:
        try:
            data = task.read()
        except OSError as error:
            data = b""
            notes.append(f"could not read the file: {error}")
    return grade_notebook(data, task.stage, limits, grader=grader, notes=tuple(notes))


def save_result(out: Path, row: ClassResult) -> None:
    """The student's feedback page, the autograded notebook (for the class's nbgrader course) and, for an
    `error`, the grader's log: written as soon as the notebook is graded."""
    result = row.result
    page = out / "feedback" / row.student_id / f"{result.stage}.html"
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text(result.feedback_html, encoding="utf-8")
    if result.autograded_notebook is not None:
        copy = autograded_copy(out, row.student_id, result.stage)
        copy.parent.mkdir(parents=True, exist_ok=True)
        copy.write_bytes(result.autograded_notebook)
    if result.status == Status.ERROR and result.log:
        target = out / "logs" / row.student_id / f"{result.stage}.log"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(result.log, encoding="utf-8")


def stop_run_processes(marker: str) -> int:
    """Kill processes that carry this run's marker in their environment (kernels' children that escaped)."""
    import psutil

    killed = 0
    for process in psutil.process_iter():
        try:
            if process.pid != os.getpid() and process.environ().get("AUTOGRADER_RUN") == marker:
                process.kill()
                killed += 1
        except psutil.Error:
            continue
    return killed


def _execute(tasks: list[Task], workers: int, limits: Limits, grader: Grader, out: Path,
             progress: Progress) -> list[ClassResult]:
    """Grade the tasks `workers` at a time; each result is saved as it arrives."""
    rows: list[ClassResult] = []
    pool = ThreadPoolExecutor(max_workers=workers)
    futures = {pool.submit(grade_task, task, limits, grader): task for task in tasks}
    try:
        for future in as_completed(futures):
            task = futures[future]
            try:
                result = future.result()
            except Exception as error:  # grade_notebook never raises for a notebook; this is a last resort
                log.exception("grading %s of %s failed", task.stage, task.student_id)
                result = GradeResult(task.stage, Status.ERROR, 0.0, grader.stage_info(task.stage).max_score,
                                     notes=[f"grader error: {error}"])
            row = ClassResult(task.student_id, result)
            save_result(out, row)
            rows.append(row)
            progress.update(row)
    except KeyboardInterrupt:  # Ctrl-C: stop the workers, keep what is done, mark the rest
        pool.shutdown(wait=False, cancel_futures=True)
        stop_all_workers()
        done = {(r.student_id, r.notebook) for r in rows}
        rows += [ClassResult(t.student_id, GradeResult(t.stage, Status.ERROR, 0.0,
                                                       grader.stage_info(t.stage).max_score, notes=[INTERRUPTED]))
                 for t in tasks if (t.student_id, t.stage) not in done]
        print("\nInterrupted: the notebooks not graded yet have the status `error`.", file=progress.stream)
    pool.shutdown(wait=True)
    return rows


def grade_class(submissions: Path, out: Path = DEFAULT_OUT, jobs: int | None = None, limits: Limits = Limits(),
                sandbox: bool = True, notebooks: str | None = None, stream=sys.stdout,
                warm: bool = True) -> list[ClassResult]:
    """Grade every student's notebooks in SUBMISSIONS into `out`; returns one row per (student, stage)."""
    started = time.monotonic()
    workers = default_jobs() if jobs is None else jobs
    if workers < 1:
        raise GradeArgumentError(f"--jobs must be at least 1, not {workers}")
    collection = collect(submissions, STAGES, stage_grade_ids())
    found = {stage for s in collection.students.values() for stage in s.notebooks}
    stages = choose_stages(notebooks, found)
    prepare_output(out, submissions)
    out = out.resolve()
    grader = Grader(stages, sandbox=sandbox, warm=warm)
    tasks = make_tasks(collection, stages)
    try:
        grader.start()  # from this thread: the servers die with the thread that started them
        print(grader.sandbox_line, file=stream, flush=True)
        count = len(collection.students)
        print(f"Found {count} student{'s' if count != 1 else ''} in {submissions} ({collection.layout}); "
              f"grading {', '.join(stages)} with {workers} worker(s).", file=stream, flush=True)
        print(grader.warm_line, file=stream, flush=True)
        rows = _execute(tasks, workers, limits, grader, out, Progress(len(tasks), stream))
        from autograder.grading.workspace import Workspace

        write_course(out, Workspace(grader.template), rows)
    except KeyboardInterrupt:  # Ctrl-C before grading began (while the grader started): every row says so
        print("\nInterrupted before grading began.", file=stream)
        rows = [ClassResult(t.student_id, GradeResult(t.stage, Status.ERROR, 0.0, 0.0, notes=[INTERRUPTED]))
                for t in tasks]
    finally:
        grader.close()
        stop_run_processes(grader.run_marker)
    names = {s.student_id: s.display_name for s in collection.students.values()}
    write_tables(out, rows, names, collection.inventory)
    write_roster(out, collection.students.values())
    uncontained = [] if grader.sandbox else [
        "Without the sandbox, students' file access, shell commands and programs could not be contained: "
        "they ran as you and are listed as notes (no points taken); read them before trusting the grades."]
    settings = [grader.sandbox_line, *uncontained, grader.warm_line,
                f"Limits: {limits.cell_timeout} s per cell, {limits.notebook_timeout} s per notebook, "
                f"{limits.memory} MB memory, {limits.output} MB output, {limits.file_size} MB per file; "
                f"{workers} worker(s)",
                f"nbgrader course with every submission (Formgrader, nbgrader export): {course_folder(out)}"]
    text = summary(rows, stages, settings, time.monotonic() - started, out)
    (out / "summary.txt").write_text(text, encoding="utf-8")
    print(text, file=stream, end="", flush=True)
    return rows


# -- command line -------------------------------------------------------------------------------------------

def add_grade_parser(commands) -> None:
    defaults = Limits()
    parser = commands.add_parser(
        "grade", help="grade a whole class: a folder or a Moodle/Canvas zip of student notebooks",
        description="Grade every student's notebooks with nbgrader: grades.csv, tests.csv, feedback pages.")
    parser.add_argument("submissions", type=Path, metavar="SUBMISSIONS",
                        help="a folder with one subfolder per student, nbgrader's submitted/ folder, "
                             "or a zip downloaded from Moodle or Canvas")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, metavar="DIR",
                        help=f"where the results go (default: {DEFAULT_OUT})")
    parser.add_argument("--jobs", type=int, default=None, metavar="N",
                        help=f"notebooks graded at the same time (default: one more than CPUs, {default_jobs()} here)")
    parser.add_argument("--notebooks", metavar="LIST", help="comma-separated stages to grade (default: those found)")
    parser.add_argument("--no-sandbox", action="store_true",
                        help="run student code without the sandbox (only time, memory and file limits)")
    parser.add_argument("--cold-kernels", action="store_true",
                        help="start every worker and kernel as a fresh interpreter instead of forking them "
                             "from servers that have imported nbgrader and torch (slower; the sandbox is the same)")
    limits = parser.add_argument_group("limits of each notebook")
    limits.add_argument("--cell-timeout", type=int, default=defaults.cell_timeout, metavar="SECONDS",
                        help=f"one cell (default: {defaults.cell_timeout})")
    limits.add_argument("--notebook-timeout", type=int, default=defaults.notebook_timeout, metavar="SECONDS",
                        help=f"all cells together (default: {defaults.notebook_timeout})")
    limits.add_argument("--memory", type=int, default=defaults.memory, metavar="MB",
                        help=f"the kernel's address space (default: {defaults.memory})")
    limits.add_argument("--max-output", type=int, default=defaults.output, metavar="MB",
                        help=f"output kept per notebook (default: {defaults.output})")
    limits.add_argument("--file-size", type=int, default=defaults.file_size, metavar="MB",
                        help=f"largest file the kernel may write (default: {defaults.file_size})")
    parser.set_defaults(run=command_grade)


def command_grade(args) -> int:
    try:
        limits = Limits(cell_timeout=args.cell_timeout, notebook_timeout=args.notebook_timeout,
                        memory=args.memory, output=args.max_output, file_size=args.file_size)
        results = grade_class(args.submissions, args.out, args.jobs, limits, not args.no_sandbox, args.notebooks,
                              warm=not args.cold_kernels)
    except (CollectError, GradeArgumentError, SandboxUnavailable, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if any(r.detail == INTERRUPTED for r in results):
        return 130  # Ctrl-C: the tables are written, but not every notebook was graded
    return 0
