"""`python -m autograder grade SUBMISSIONS`: grade a whole class in one command.

Steps: find the students and their notebooks (collect.py); start a Grader (core.py: the sandbox check, the
template with the stages to grade, the warm servers); grade every (student, stage) with `grade_notebook`,
N at a time; write each feedback page and autograded notebook as it arrives; then the tables and the
summary (report.py) and the class's nbgrader course for Formgrader (classbook.py). Every student found gets
a row per stage, whatever happens to their notebook; the input is only read; the output folder is replaced
only if an earlier run of the grader wrote it. Ctrl-C stops the workers and still writes the tables (the
notebooks not graded: `error`; exit code 130).

Each result is also appended to OUT/journal.jsonl (journal.py), which the tables are built from:
`--resume` keeps the results of notebooks graded before with the same content and grades the rest.
`--cluster ADDRESS` grades on a Dask cluster (cluster.py) instead of this machine's workers; the course's
figures and page styles are stored once per class (shared_assets.py).
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
from autograder.grading.journal import JOURNAL, Journal, fingerprint, reusable, task_id
from autograder.grading.report import Progress, summary, write_tables
from autograder.grading.result import GradeResult, Status
from autograder.grading.roster import write_roster
from autograder.grading.shared_assets import SharedAssets, folder_size, human_size, per_notebook_size
from autograder.isolation.limits import Limits
from autograder.isolation.processes import stop_all_workers

MARKER = ".autograder-output"
INTERRUPTED = "grading was interrupted"
DEFAULT_OUT = Path("grading-output")
log = logging.getLogger(__name__)


class GradeArgumentError(ValueError):
    """A bad command line: the message is shown as one line."""


class ClusterError(RuntimeError):
    """The Dask cluster cannot grade this run (unreachable, no workers, a worker that refuses, the scheduler
    lost): the message is shown as one line; what was graded is kept for --resume."""


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
    fingerprint: str = ""  # what decides its result (journal.fingerprint); set by fingerprint_tasks

    @property
    def key(self) -> str:
        """A name for the task that changes with its content (the Dask key of a cluster run)."""
        return f"qkv-grade-{self.student_id}-{self.stage}-{self.fingerprint[:16]}"

    def data(self) -> tuple[bytes | None, tuple[str, ...]]:
        """The notebook's bytes (None: missing) and the notes; a file that cannot be read is an empty one."""
        if self.read is None:
            return None, self.notes
        try:
            return self.read(), self.notes
        except OSError as error:
            return b"", (*self.notes, f"could not read the file: {error}")


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
        ids[stage] = {
            c["metadata"]["nbgrader"]["grade_id"]
            for c in notebook["cells"]
            if c.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        }
    return ids


def prepare_output(out: Path, submissions: Path, resume: bool = False) -> None:
    """Create `out`, or empty it if an earlier run of the grader made it; refuse anything else.
    resume: keep the journal and the pages and notebooks it refers to (the tables are written anew)."""
    out, submissions = out.resolve(), submissions.resolve()
    if submissions.is_dir() and (out == submissions or submissions in out.parents):
        raise GradeArgumentError(f"--out {out} is inside the submissions folder; the input must stay untouched")
    if out.exists() and not out.is_dir():
        raise GradeArgumentError(f"--out {out} is a file, not a folder")
    if out.exists() and any(out.iterdir()) and not (out / MARKER).exists():
        raise GradeArgumentError(f"--out {out} already holds other files; give a new or empty folder")
    out.mkdir(parents=True, exist_ok=True)
    for folder in () if resume else (out / "feedback", out / "logs", out / "export", course_folder(out)):
        shutil.rmtree(folder, ignore_errors=True)
    for name in (
        "grades.csv",
        "tests.csv",
        "collected.csv",
        "students.csv",
        "summary.txt",
        *(() if resume else (JOURNAL,)),
    ):
        (out / name).unlink(missing_ok=True)
    (out / MARKER).write_text("Written by `python -m autograder grade`; the next run replaces it.\n", encoding="utf-8")


def choose_stages(requested: str | None, found: set[str]) -> list[str]:
    if requested:
        stages = [s.strip() for s in requested.split(",") if s.strip()]
        unknown = [s for s in stages if s not in STAGES]
        if unknown:
            raise GradeArgumentError(
                f"--notebooks: unknown notebook(s) {', '.join(unknown)}; the course has {', '.join(STAGES)}"
            )
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


def fingerprint_tasks(tasks: list[Task], limits: Limits, sandbox: bool) -> list[Task]:
    """The tasks with their fingerprints (each file is read once here, and again when it is graded)."""
    from dataclasses import replace

    fingerprinted = []
    for task in tasks:
        data, notes = task.data()
        fingerprinted.append(replace(task, fingerprint=fingerprint(data, task.stage, limits, sandbox, notes)))
    return fingerprinted


def grade_task(task: Task, limits: Limits, grader: Grader) -> GradeResult:
    """grade_notebook for one task; a file that cannot be read is graded as an empty (unreadable) one."""
    data, notes = task.data()
    return grade_notebook(data, task.stage, limits, grader=grader, notes=notes)


def save_result(out: Path, row: ClassResult) -> None:
    """The student's feedback page, the autograded notebook (for the class's nbgrader course) and, for an
    `error`, the grader's log: written as soon as the notebook is graded. What every notebook would
    repeat (the course's figures, the page style) is stored once per class (shared_assets.py)."""
    result = row.result
    shared = SharedAssets(out)
    page = out / "feedback" / row.student_id / f"{result.stage}.html"
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text(shared.feedback_page(result.feedback_html), encoding="utf-8")
    if result.autograded_notebook is not None:
        copy = autograded_copy(out, row.student_id, result.stage)
        copy.parent.mkdir(parents=True, exist_ok=True)
        copy.write_bytes(shared.autograded_notebook(result.autograded_notebook, copy.parent))
    else:  # --resume: a notebook graded before and gone now leaves no stale copy for Formgrader
        autograded_copy(out, row.student_id, result.stage).unlink(missing_ok=True)
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


def _execute(
    tasks: list[Task], workers: int, limits: Limits, grader: Grader, record, progress: Progress
) -> list[ClassResult]:
    """Grade the tasks `workers` at a time; record(task, result) saves each result as it arrives."""
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
                result = GradeResult(
                    task.stage,
                    Status.ERROR,
                    0.0,
                    grader.stage_info(task.stage).max_score,
                    notes=[f"grader error: {error}"],
                )
            rows.append(record(task, result))
    except KeyboardInterrupt:  # Ctrl-C: stop the workers, keep what is done, mark the rest
        pool.shutdown(wait=False, cancel_futures=True)
        stop_all_workers()
        rows += _interrupted(tasks, rows, grader, progress)
    pool.shutdown(wait=True)
    return rows


def _interrupted(tasks: list[Task], rows: list[ClassResult], grader: Grader, progress: Progress) -> list[ClassResult]:
    """`error` rows for the tasks without a result (Ctrl-C); the journal has the others for --resume."""
    done = {(r.student_id, r.notebook) for r in rows}
    print(
        "\nInterrupted: the notebooks not graded yet have the status `error`; `--resume` grades only those.",
        file=progress.stream,
    )
    return [
        ClassResult(
            t.student_id,
            GradeResult(t.stage, Status.ERROR, 0.0, grader.stage_info(t.stage).max_score, notes=[INTERRUPTED]),
        )
        for t in tasks
        if (t.student_id, t.stage) not in done
    ]


def _execute_on_cluster(
    client, plugin_name: str, tasks: list[Task], limits: Limits, grader: Grader, record, progress: Progress
) -> list[ClassResult]:
    """Grade the tasks on the Dask cluster; record(task, result) saves each result as it arrives."""
    from autograder.grading import cluster

    rows: list[ClassResult] = []
    try:
        cluster.execute(
            client,
            plugin_name,
            tasks,
            limits,
            lambda task, result: rows.append(record(task, result)),
            lambda stage: grader.stage_info(stage).max_score,
        )
    except KeyboardInterrupt:
        rows += _interrupted(tasks, rows, grader, progress)
    return rows


def _resumed(journal: Journal, tasks: list[Task], out: Path) -> tuple[list[ClassResult], list[Task]]:
    """(rows kept from the journal, tasks still to grade): a journalled result is kept when its task has
    the same fingerprint now, it is not a grader error, and its feedback page is still there."""
    entries = journal.load()
    kept, todo = [], []
    for task in tasks:
        entry = entries.get(task_id(task.student_id, task.stage))
        page = out / "feedback" / task.student_id / f"{task.stage}.html"
        if entry is not None and entry[1] == task.fingerprint and reusable(entry[2]) and page.exists():
            kept.append(ClassResult(task.student_id, entry[2]))
        else:
            todo.append(task)
    return kept, todo


def grade_class(
    submissions: Path,
    out: Path = DEFAULT_OUT,
    jobs: int | None = None,
    limits: Limits = Limits(),
    sandbox: bool = True,
    notebooks: str | None = None,
    stream=sys.stdout,
    warm: bool = True,
    cluster: str | None = None,
    resume: bool = False,
) -> list[ClassResult]:
    """Grade every student's notebooks in SUBMISSIONS into `out`; returns one row per (student, stage).
    cluster: the address of a Dask scheduler to grade on (None: this machine, `jobs` at a time);
    resume: keep what an earlier run into `out` graded with the same content (OUT/journal.jsonl)."""
    started = time.monotonic()
    workers = default_jobs() if jobs is None else jobs
    if workers < 1:
        raise GradeArgumentError(f"--jobs must be at least 1, not {workers}")
    if cluster and jobs is not None:
        raise GradeArgumentError(
            "--jobs is for this machine; on a cluster each Dask worker thread grades one "
            "notebook at a time (dask worker --nthreads N)"
        )
    collection = collect(submissions, STAGES, stage_grade_ids())
    found = {stage for s in collection.students.values() for stage in s.notebooks}
    stages = choose_stages(notebooks, found)
    prepare_output(out, submissions, resume)
    out = out.resolve()
    tasks = fingerprint_tasks(make_tasks(collection, stages), limits, sandbox)
    journal = Journal(out)
    kept, todo = _resumed(journal, tasks, out) if resume else ([], tasks)
    client, plugin_name = None, ""
    if cluster:  # the client needs only the template (stage maxima, the class gradebook); the workers grade
        from autograder.grading import cluster as dask_cluster

        grader = Grader(stages, sandbox=False, warm=False)
        client = dask_cluster.connect(cluster)
    else:
        grader = Grader(stages, sandbox=sandbox, warm=warm)
    progress = Progress(len(todo), stream)
    lines: list[str] = []  # how it grades: sandbox, warm start (or the cluster's workers)

    def record(task: Task, result: GradeResult) -> ClassResult:
        row = ClassResult(task.student_id, result)
        save_result(out, row)
        if result.detail != INTERRUPTED:
            journal.append(task.student_id, task.fingerprint, result)
        progress.update(row)
        return row

    try:
        if client is not None:  # the client's template (no servers) is made while the workers start theirs
            with ThreadPoolExecutor(max_workers=1) as background:
                making = background.submit(grader.start)
                plugin_name, lines = dask_cluster.start_graders(client, stages, sandbox, warm)
                making.result()
        else:
            grader.start()  # from this thread: the servers die with the thread that started them
            lines = [grader.sandbox_line, grader.warm_line]
        first = len(lines) if client is not None else 1  # the sandbox line(s) first, as people look there
        for line in lines[:first]:
            print(line, file=stream, flush=True)
        count = len(collection.students)
        where = f"on the Dask cluster at {cluster}" if cluster else f"with {workers} worker(s)"
        print(
            f"Found {count} student{'s' if count != 1 else ''} in {submissions} ({collection.layout}); "
            f"grading {', '.join(stages)} {where}.",
            file=stream,
            flush=True,
        )
        for line in lines[first:]:
            print(line, file=stream, flush=True)
        if resume:
            print(
                f"Resuming {out / JOURNAL}: {len(kept)} notebook(s) already graded with the same content are "
                f"kept; {len(todo)} to grade.",
                file=stream,
                flush=True,
            )
        if client is not None:
            rows = kept + _execute_on_cluster(client, plugin_name, todo, limits, grader, record, progress)
        else:
            rows = kept + _execute(todo, workers, limits, grader, record, progress)
        from autograder.grading.workspace import Workspace

        write_course(out, Workspace(grader.template), rows)
    except KeyboardInterrupt:  # Ctrl-C before grading began (while the grader started): every row says so
        print("\nInterrupted before grading began.", file=stream)
        rows = [
            ClassResult(t.student_id, GradeResult(t.stage, Status.ERROR, 0.0, 0.0, notes=[INTERRUPTED])) for t in tasks
        ]
    finally:
        journal.close()
        if client is not None:
            if plugin_name:
                dask_cluster.stop_graders(client, plugin_name)
            client.close()
        grader.close()
        stop_run_processes(grader.run_marker)
    names = {s.student_id: s.display_name for s in collection.students.values()}
    write_tables(out, rows, names, collection.inventory)
    write_roster(out, collection.students.values())
    size, own = folder_size(out), per_notebook_size(out)
    uncontained = (
        []
        if grader.sandbox or cluster
        else [
            "Without the sandbox, students' file access, shell commands and programs could not be contained: "
            "they ran as you and are listed as notes (no points taken); read them before trusting the grades."
        ]
    )
    settings = [
        *lines,
        *uncontained,
        f"Limits: {limits.cell_timeout} s per cell, {limits.notebook_timeout} s per notebook, "
        f"{limits.memory} MB memory, {limits.output} MB output, {limits.file_size} MB per file"
        + ("" if cluster else f"; {workers} worker(s)"),
        *(
            [f"Resumed: {len(kept)} notebook(s) kept from the journal, {len(todo)} graded in this run"]
            if resume
            else []
        ),
        f"nbgrader course with every submission (Formgrader, nbgrader export): {course_folder(out)}",
        f"Output: {human_size(size)} in {out}: {human_size(own / max(1, len(rows)))} per notebook (its "
        f"feedback page and graded copy), {human_size(size - own)} once for the class (the course's "
        "figures and page style in feedback/_static, the nbgrader course, the tables)",
    ]
    text = summary(rows, stages, settings, time.monotonic() - started, out)
    (out / "summary.txt").write_text(text, encoding="utf-8")
    print(text, file=stream, end="", flush=True)
    return rows


# -- command line -------------------------------------------------------------------------------------------


def add_grade_parser(commands) -> None:
    defaults = Limits()
    parser = commands.add_parser(
        "grade",
        help="grade a whole class: a folder or a Moodle/Canvas zip of student notebooks",
        description="Grade every student's notebooks with nbgrader: grades.csv, tests.csv, feedback pages.",
    )
    parser.add_argument(
        "submissions",
        type=Path,
        metavar="SUBMISSIONS",
        help="a folder with one subfolder per student, nbgrader's submitted/ folder, "
        "or a zip downloaded from Moodle or Canvas",
    )
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, metavar="DIR", help=f"where the results go (default: {DEFAULT_OUT})"
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=None,
        metavar="N",
        help=f"notebooks graded at the same time (default: one more than CPUs, {default_jobs()} here)",
    )
    parser.add_argument("--notebooks", metavar="LIST", help="comma-separated stages to grade (default: those found)")
    parser.add_argument(
        "--no-sandbox",
        action="store_true",
        help="run student code without the sandbox (only time, memory and file limits)",
    )
    parser.add_argument(
        "--cluster",
        metavar="ADDRESS",
        help="grade on an existing Dask distributed cluster, e.g. tcp://scheduler:8786 (each worker "
        "needs this course checkout and, for the sandbox, bubblewrap; see the README)",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue an interrupted run into the same --out: notebooks already graded with the "
        "same content (and settings) are kept, new, changed and failed ones are graded",
    )
    parser.add_argument(
        "--cold-kernels",
        action="store_true",
        help="start every worker and kernel as a fresh interpreter instead of forking them "
        "from servers that have imported nbgrader and torch (slower; the sandbox is the same)",
    )
    limits = parser.add_argument_group("limits of each notebook")
    limits.add_argument(
        "--cell-timeout",
        type=int,
        default=defaults.cell_timeout,
        metavar="SECONDS",
        help=f"one cell (default: {defaults.cell_timeout})",
    )
    limits.add_argument(
        "--notebook-timeout",
        type=int,
        default=defaults.notebook_timeout,
        metavar="SECONDS",
        help=f"all cells together (default: {defaults.notebook_timeout})",
    )
    limits.add_argument(
        "--memory",
        type=int,
        default=defaults.memory,
        metavar="MB",
        help=f"the kernel's address space (default: {defaults.memory})",
    )
    limits.add_argument(
        "--max-output",
        type=int,
        default=defaults.output,
        metavar="MB",
        help=f"output kept per notebook (default: {defaults.output})",
    )
    limits.add_argument(
        "--file-size",
        type=int,
        default=defaults.file_size,
        metavar="MB",
        help=f"largest file the kernel may write (default: {defaults.file_size})",
    )
    parser.set_defaults(run=command_grade)


def command_grade(args) -> int:
    try:
        limits = Limits(
            cell_timeout=args.cell_timeout,
            notebook_timeout=args.notebook_timeout,
            memory=args.memory,
            output=args.max_output,
            file_size=args.file_size,
        )
        results = grade_class(
            args.submissions,
            args.out,
            args.jobs,
            limits,
            not args.no_sandbox,
            args.notebooks,
            warm=not args.cold_kernels,
            cluster=args.cluster,
            resume=args.resume,
        )
    except (CollectError, GradeArgumentError, SandboxUnavailable, ClusterError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if any(r.detail == INTERRUPTED for r in results):
        return 130  # Ctrl-C: the tables are written, but not every notebook was graded
    return 0
