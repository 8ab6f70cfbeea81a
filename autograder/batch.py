"""`python -m autograder grade SUBMISSIONS`: grade a whole class in one command.

Steps: find the students and their notebooks (autograder/collect.py); check whether the sandbox is there
(autograder/sandbox.py) and say so; build one nbgrader template workspace with the stages to grade while the
warm servers start (autograder/warm_jobs.py, autograder/warm_kernels.py); grade every (student, stage) in
its own process with its own kernel in its own sandbox, N at a time (autograder/grade.py); write the tables, the
feedback pages and the summary (autograder/report.py) and the class's nbgrader course for Formgrader
(autograder/classbook.py). Every student found gets a row per stage, whatever happens to their notebook;
the input is only read; the output folder is replaced only if an earlier run of the grader wrote it.
Ctrl-C stops the workers and still writes the tables (the notebooks not graded: `error`; exit code 130).
"""
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from autograder.classbook import autograded_copy, course_folder, write_course
from autograder.collect import CollectError, collect
from autograder.course import STAGES, solution_notebook
from autograder.grade import Job, NotebookResult, grade_notebook, stop_all_jobs
from autograder.limits import Limits
from autograder.report import Progress, summary, write_tables

MARKER = ".autograder-output"
INTERRUPTED = "grading was interrupted"
DEFAULT_OUT = Path("grading-output")


class GradeArgumentError(ValueError):
    """A bad command line: the message is shown as one line."""


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
    for folder in (out / "feedback", out / "logs", course_folder(out)):
        shutil.rmtree(folder, ignore_errors=True)
    for name in ("grades.csv", "tests.csv", "collected.csv", "summary.txt"):
        (out / name).unlink(missing_ok=True)
    (out / MARKER).write_text("Written by `python -m autograder grade`; the next run replaces it.\n", encoding="utf-8")


def sandbox_status(wanted: bool) -> tuple[bool, str]:
    """(use the sandbox, a line for the terminal and the summary)."""
    unprotected = "student code runs as you, limited only in time, memory, output and file size"
    if not wanted:
        return False, f"Sandbox: OFF (--no-sandbox): {unprotected}."
    try:
        from autograder import sandbox
        available, reason = sandbox.probe()
    except Exception as error:  # an unusable sandbox must not stop grading
        available, reason = False, f"the sandbox could not be checked ({type(error).__name__}: {error})"
    if available:
        return True, f"Sandbox: on ({reason})."
    return False, f"Sandbox: UNAVAILABLE ({reason}). Grading without it: {unprotected}."


def choose_stages(requested: str | None, found: set[str]) -> list[str]:
    if requested:
        stages = [s.strip() for s in requested.split(",") if s.strip()]
        unknown = [s for s in stages if s not in STAGES]
        if unknown:
            raise GradeArgumentError(f"--notebooks: unknown notebook(s) {', '.join(unknown)}; "
                                     f"the course has {', '.join(STAGES)}")
        return stages
    return [s for s in STAGES if s in found]


def make_jobs(collection, stages, template: Path, out: Path, scratch: Path, limits: Limits,
              sandbox: bool, warm_kernels: str = "") -> list[Job]:
    """One job per (student, stage); notebooks inside a zip are first copied to the scratch folder."""
    jobs = []
    inputs = scratch / "input"
    inputs.mkdir()
    for student in collection.students.values():
        for stage in stages:
            found = student.notebooks.get(stage)
            notes = list(student.notes)
            source = None
            if found is not None:
                if found.how == "by content":
                    notes.append(f"{Path(found.entry.path).name} recognised as {stage} by its content")
                source = inputs / f"{len(jobs):05d}.ipynb"
                try:
                    source.write_bytes(found.entry.read_limited())
                except OSError as error:
                    source.write_bytes(b"")
                    notes.append(f"could not read the file: {error}")
            jobs.append(Job(student.student_id, stage, str(source) if source else None, str(template),
                            str(out / "feedback" / student.student_id / f"{stage}.html"),
                            str(scratch / "jobs" / f"{len(jobs):05d}"), limits, sandbox, tuple(notes),
                            str(autograded_copy(out, student.student_id, stage)), warm_kernels))
    return jobs


def start_servers(scratch: Path, use_sandbox: bool, warm: bool):
    """The warm servers (autograder/warm_jobs.py, autograder/warm_kernels.py): ([servers], workers' socket or
    None, kernels' socket or None, a line for the terminal and the summary). A server that cannot start only
    makes grading slower."""
    from autograder import warm_jobs, warm_kernels

    servers, sockets, words = [], [None, None], []
    if not warm:
        return servers, None, None, "Warm start: off (--cold-kernels): every worker and kernel is a fresh interpreter."
    for index, (what, start) in enumerate([("workers", warm_jobs.start_server),
                                           ("kernels", warm_kernels.start_server if use_sandbox else None)]):
        if start is None:
            words.append(f"{what} fresh (warm kernels need the sandbox)")
            continue
        try:
            server = start(str(scratch / f"warm-{what}"))
        except (RuntimeError, OSError) as error:
            words.append(f"{what} fresh (the server could not start: {error})")
            continue
        servers.append(server)
        sockets[index] = server.socket_path
        words.append(f"{what} forked warm")
    line = ("Warm start: " + "; ".join(words) + ". Each notebook still has its own new process and sandbox "
            "(--cold-kernels: fresh interpreters).")
    return servers, sockets[0], sockets[1], line


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


def _execute(jobs: list[Job], workers: int, marker: str, progress: Progress,
             worker_server: str | None = None) -> list[NotebookResult]:
    """Run the jobs, the training stage first (the longest), `workers` at a time, each in a fresh process;
    worker_server: the socket of a server that forks them warm (autograder/warm_jobs.py), or None."""
    from autograder import warm_jobs

    results: list[NotebookResult] = []

    def one(job: Job) -> NotebookResult:
        if job.source is None:
            return grade_notebook(job)  # missing: no kernel, no process needed
        return warm_jobs.run_job(job, marker, worker_server)

    ordered = sorted(jobs, key=lambda j: (j.source is None, -STAGES.index(j.stage), j.student_id))
    pool = ThreadPoolExecutor(max_workers=workers)
    futures = {pool.submit(one, job): job for job in ordered}
    try:
        for future in as_completed(futures):
            job = futures[future]
            try:
                result = future.result()
            except Exception as error:  # run_job never raises; this is a last resort
                result = NotebookResult(job.student_id, job.stage, "error", 0.0, 0.0, f"grader error: {error}")
            results.append(result)
            progress.update(result)
    except KeyboardInterrupt:  # Ctrl-C: stop the workers, keep what is done, mark the rest
        pool.shutdown(wait=False, cancel_futures=True)
        stop_all_jobs()
        done = {(r.student_id, r.notebook) for r in results}
        results += [NotebookResult(j.student_id, j.stage, "error", 0.0, 0.0, INTERRUPTED)
                    for j in jobs if (j.student_id, j.stage) not in done]
        print("\nInterrupted: the notebooks not graded yet have the status `error`.", file=progress.stream)
    pool.shutdown(wait=True)
    return results


def grade_class(submissions: Path, out: Path = DEFAULT_OUT, jobs: int | None = None, limits: Limits = Limits(),
                sandbox: bool = True, notebooks: str | None = None, stream=sys.stdout,
                warm: bool = True) -> list[NotebookResult]:
    """Grade every student's notebooks in SUBMISSIONS into `out`; returns one result per (student, stage)."""
    from autograder.workspace import Workspace

    started = time.monotonic()
    workers = default_jobs() if jobs is None else jobs
    if workers < 1:
        raise GradeArgumentError(f"--jobs must be at least 1, not {workers}")
    collection = collect(submissions, STAGES, stage_grade_ids())
    found = {stage for s in collection.students.values() for stage in s.notebooks}
    stages = choose_stages(notebooks, found)
    prepare_output(out, submissions)
    use_sandbox, sandbox_line = sandbox_status(sandbox)
    print(sandbox_line, file=stream, flush=True)
    count = len(collection.students)
    print(f"Found {count} student{'s' if count != 1 else ''} in {submissions} ({collection.layout}); "
          f"grading {', '.join(stages)} with {workers} worker(s).", file=stream, flush=True)
    marker = f"run-{os.getpid()}-{time.time_ns()}"
    scratch = Path(tempfile.mkdtemp(prefix="qkv-grade-"))
    servers = []
    try:
        # nbgrader makes the template (a process of its own) while the servers start. The servers must be
        # started by this thread: they die with the thread that started them (PR_SET_PDEATHSIG).
        with ThreadPoolExecutor(max_workers=1) as background:
            making = background.submit(Workspace(scratch / "template").create, stages)
            servers, worker_socket, kernel_socket, warm_line = start_servers(scratch, use_sandbox, warm)
            template = making.result()
        print(warm_line, file=stream, flush=True)
        job_list = make_jobs(collection, stages, template.root, out.resolve(), scratch, limits, use_sandbox,
                             kernel_socket or "")
        results = _execute(job_list, workers, marker, Progress(len(job_list), stream), worker_socket)
        _keep_error_logs(results, job_list, out)
        write_course(out, template, results)
    finally:
        for server in servers:
            server.stop()
        stop_run_processes(marker)
        shutil.rmtree(scratch, ignore_errors=True)
    names = {s.student_id: s.name for s in collection.students.values()}
    write_tables(out, results, names, collection.inventory)
    uncontained = [] if use_sandbox else [
        "Without the sandbox, students' file access, shell commands and programs could not be contained: "
        "they ran as you and are listed as notes (no points taken); read them before trusting the grades."]
    settings = [sandbox_line, *uncontained, warm_line,
                f"Limits: {limits.cell_timeout} s per cell, {limits.notebook_timeout} s per notebook, "
                f"{limits.memory} MB memory, {limits.output} MB output, {limits.file_size} MB per file; "
                f"{workers} worker(s)",
                f"nbgrader course with every submission (Formgrader, nbgrader export): {course_folder(out)}"]
    text = summary(results, stages, settings, time.monotonic() - started, out)
    (out / "summary.txt").write_text(text, encoding="utf-8")
    print(text, file=stream, end="", flush=True)
    return results


def _keep_error_logs(results, jobs, out: Path) -> None:
    """The grader's log of a notebook that ended in `error`, for the instructor: out/logs/<student>/<stage>.log."""
    by_key = {(j.student_id, j.stage): j for j in jobs}
    for result in results:
        job = by_key.get((result.student_id, result.notebook))
        log = Path(f"{job.scratch}.log") if job else None
        if result.status == "error" and log and log.exists():
            target = out / "logs" / result.student_id / f"{result.notebook}.log"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(log, target)


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
    except (CollectError, GradeArgumentError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if any(r.detail == INTERRUPTED for r in results):
        return 130  # Ctrl-C: the tables are written, but not every notebook was graded
    return 0
