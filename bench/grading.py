"""Benchmark: the project's grader against serial plain `nbgrader autograde`, on the same synthetic class.

    python -m bench.grading [--students 24] [--stages 01_data,...] [--jobs N] [--keep DIR]

1. build a class (`build_class`): every student hands in every stage; each (student, stage) is one of
   correct (the instructor's answers), wrong (a mistake from tests/catalog), broken (a syntax error in an
   answer cell) or blank (the notebook as handed out). Tampering and unreadable files are left out on
   purpose: there the grader deliberately gives other scores than plain nbgrader.
2. grade it with plain nbgrader, one notebook after another (`grade_serial`): one workspace
   (autograder/grading/workspace.py), every notebook submitted, `nbgrader autograde STAGE` per stage, scores read
   from the gradebook;
3. grade it with `python -m autograder grade CLASS --out DIR --jobs N` (`grade_project`), scores read from
   DIR/grades.csv;
4. compare the scores per (student, stage) and report the times and the peak memory.
"""

import argparse
import csv
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat

from autograder.course import ROOT, STAGES
from autograder.grading.batch import default_jobs

KINDS = ("correct", "wrong", "broken", "blank")
# The stages without a training run (06 and later add about 30 s per student and notebook).
DEFAULT_STAGES = [s for s in STAGES if s < "06"]
KERNEL_THREADS = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}  # the grader's kernels use the same


# -- the class ----------------------------------------------------------------------------------------------


def _mistakes(stage: str) -> list:
    from tests.catalog import ENTRIES

    return [e for e in ENTRIES if e.stage == stage and e.kind == "mistake"]


def _broken(stage: str):
    """The instructor's answers with a syntax error appended to the first answer cell."""
    from tests.catalog.submission import build, reference_answers

    answers = reference_answers(stage)
    first = next(iter(answers))
    regions = answers[first]
    code = {name: text for name, text in regions.items()}
    name = next(iter(code))
    code[name] = code[name] + "\nresult = (1 +  # unfinished line\n"
    return build(stage, first, code if len(code) > 1 else code[name], answers)


def submission(stage: str, kind: str, index: int):
    """One notebook of `stage` of the given kind; `index` picks which catalog mistake a `wrong` one makes."""
    from examples.make_submissions import answered, blank
    from tests.catalog.submission import build

    if kind == "correct":
        return answered(stage)
    if kind == "blank":
        return blank(stage)
    if kind == "broken":
        return _broken(stage)
    if kind == "wrong":
        mistakes = _mistakes(stage)
        if not mistakes:
            raise ValueError(f"tests/catalog has no mistake for {stage}: leave it out of the benchmark (--stages)")
        entry = mistakes[index % len(mistakes)]
        return build(stage, entry.cell, entry.code)
    raise ValueError(f"unknown kind {kind!r}; choose from {', '.join(KINDS)}")


def build_class(folder: Path, students: int, stages: list[str]) -> dict[tuple[str, str], str]:
    """Write folder/<student>/<stage>.ipynb for `students` students; returns {(student, stage): kind}."""
    if students < 1:
        raise ValueError(f"a class needs at least one student, not {students}")
    kinds = {}
    for number in range(students):
        student = f"s{number + 1:03d}"
        for position, stage in enumerate(stages):
            kind = KINDS[(number + position) % len(KINDS)]
            path = folder / student / f"{stage}.ipynb"
            path.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(submission(stage, kind, number), path)
            kinds[(student, stage)] = kind
    return kinds


# -- measuring ----------------------------------------------------------------------------------------------


class PeakMemory:
    """Samples the summed resident memory of this process's descendants (kernels, workers) every 0.2 s."""

    def __init__(self, interval: float = 0.2):
        self.interval, self.peak, self._stop = interval, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        import psutil

        me = psutil.Process()
        while not self._stop.is_set():
            total = 0
            try:
                children = me.children(recursive=True)
            except psutil.Error:
                children = []
            for child in children:
                try:
                    total += child.memory_info().rss
                except psutil.Error:
                    pass
            self.peak = max(self.peak, total)
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    @property
    def megabytes(self) -> float:
        return self.peak / 2**20


@dataclass
class Run:
    name: str
    scores: dict  # {(student, stage): score}
    seconds: float
    peak_mb: float


def grade_serial(submissions: Path, stages: list[str], work: Path) -> Run:
    """Plain nbgrader: one course, every notebook submitted, `nbgrader autograde STAGE` for each stage."""
    from tests.plain_nbgrader import PlainCourse

    os.environ.update(KERNEL_THREADS)
    start = time.perf_counter()
    with PeakMemory() as memory:
        workspace = PlainCourse(work).create(stages)
        for student in sorted(p.name for p in submissions.iterdir() if p.is_dir()):
            for stage in stages:
                notebook = submissions / student / f"{stage}.ipynb"
                if notebook.exists():
                    workspace.submit(student, stage, notebook)
        scores = {}
        for stage in stages:
            workspace.autograde(stage)
            scores.update({(s.student, stage): s.score for s in workspace.scores(stage)})
    return Run("serial nbgrader autograde", scores, time.perf_counter() - start, memory.megabytes)


def grade_project(submissions: Path, stages: list[str], out: Path, jobs: int, extra: list[str] = ()) -> Run:
    """`python -m autograder grade SUBMISSIONS --out OUT --jobs N --notebooks STAGES [extra]`, scores from
    OUT/grades.csv."""
    jobs = jobs or default_jobs()
    command = [
        sys.executable,
        "-m",
        "autograder",
        "grade",
        str(submissions),
        "--out",
        str(out),
        "--jobs",
        str(jobs),
        "--notebooks",
        ",".join(stages),
        *extra,
    ]
    start = time.perf_counter()
    with PeakMemory() as memory:
        result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(f"the grader failed (exit {result.returncode}):\n{result.stdout}{result.stderr}")
    with (out / "grades.csv").open(encoding="utf-8") as handle:
        scores = {(row["student_id"], row["notebook"]): float(row["score"]) for row in csv.DictReader(handle)}
    return Run(" ".join(["autograder grade", f"--jobs {jobs}", *extra]), scores, seconds, memory.megabytes)


def differences(expected: dict, actual: dict, kinds: dict | None = None) -> list[str]:
    """Lines describing every (student, stage) whose score differs or is missing on one side."""
    lines = []
    for key in sorted(set(expected) | set(actual)):
        a, b = expected.get(key), actual.get(key)
        if a is None or b is None or abs(a - b) > 1e-6:
            kind = f" ({kinds[key]})" if kinds and key in kinds else ""
            lines.append(f"{key[0]} {key[1]}{kind}: nbgrader {a}, grader {b}")
    return lines


def machine() -> str:
    """nproc, CPU model, RAM and load average, for RESULTS.md."""
    import platform

    import psutil

    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"{os.cpu_count()} CPUs ({model}), {psutil.virtual_memory().total / 2**30:.1f} GB RAM, "
        f"Python {platform.python_version()}, load average before the run {load}, "
        f"{time.strftime('%Y-%m-%d %H:%M %Z')}"
    )


def compare(
    students: int,
    stages: list[str],
    jobs: int,
    keep: Path | None = None,
    extra: list[str] = (),
    stream=sys.stdout,
    also_cold: bool = False,
) -> int:
    """Build, grade both ways, print the table; returns 0 when every score agrees, 1 otherwise."""
    folder = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="qkv-bench-"))
    try:
        return _compare(folder, students, stages, jobs, extra, stream, also_cold)
    finally:
        if not keep:  # the class and its graded copies: about 100 MB a run
            shutil.rmtree(folder, ignore_errors=True)


def _compare(
    folder: Path, students: int, stages: list[str], jobs: int, extra: list[str], stream, also_cold: bool
) -> int:
    folder.mkdir(parents=True, exist_ok=True)
    kinds = build_class(folder / "class", students, stages)
    notebooks = len(kinds)
    print(
        f"class: {students} students x {len(stages)} stages ({', '.join(stages)}) = {notebooks} notebooks; "
        f"kinds: " + ", ".join(f"{k} {list(kinds.values()).count(k)}" for k in KINDS),
        file=stream,
        flush=True,
    )
    serial = grade_serial(folder / "class", stages, folder / "nbgrader")
    runs = [serial, grade_project(folder / "class", stages, folder / "graded", jobs, extra)]
    if also_cold:
        runs.append(grade_project(folder / "class", stages, folder / "graded-cold", jobs, [*extra, "--cold-kernels"]))
    print("", file=stream)
    print("| grading | seconds | seconds per student | seconds per notebook | peak memory (MB) |", file=stream)
    print("|---|---|---|---|---|", file=stream)
    for run in runs:
        print(
            f"| {run.name} | {run.seconds:.1f} | {run.seconds / students:.2f} | {run.seconds / notebooks:.2f} "
            f"| {run.peak_mb:.0f} |",
            file=stream,
        )
    print("", file=stream)
    wrong = []
    for run in runs[1:]:
        print(f"speed-up of {run.name} over serial nbgrader: {serial.seconds / run.seconds:.2f}x", file=stream)
        wrong += [f"{run.name}: {line}" for line in differences(serial.scores, run.scores, kinds)]
    if wrong:
        print(f"\nSCORES DIFFER for {len(wrong)} of {notebooks} notebooks:", file=stream)
        for line in wrong:
            print(f"  {line}", file=stream)
        return 1
    print(
        f"scores: identical for all {notebooks} notebooks (total {sum(serial.scores.values()):g} points)",
        file=stream,
        flush=True,
    )
    return 0


def parse_stages(text: str | None) -> list[str]:
    if not text:
        return DEFAULT_STAGES
    stages = [s.strip() for s in text.split(",") if s.strip()]
    unknown = [s for s in stages if s not in STAGES]
    if unknown:
        raise SystemExit(f"error: unknown stage(s) {', '.join(unknown)}; the course has {', '.join(STAGES)}")
    return stages


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--students", type=int, default=24, help="students in the class (default 24)")
    parser.add_argument("--stages", help=f"comma-separated stages (default: {','.join(DEFAULT_STAGES)})")
    parser.add_argument("--jobs", type=int, default=None, help="the grader's --jobs (default: the grader's own)")
    parser.add_argument(
        "--also-cold", action="store_true", help="also grade with --cold-kernels (every kernel a fresh interpreter)"
    )
    parser.add_argument("--keep", type=Path, help="build and grade in this folder and keep it (default: a temp folder)")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    args = parser.parse_args(argv)
    if args.students < 1 or (args.jobs is not None and args.jobs < 1):
        parser.error("--students and --jobs must be at least 1")
    print(f"machine: {machine()}", flush=True)
    return compare(args.students, parse_stages(args.stages), args.jobs, args.keep, also_cold=args.also_cold)


if __name__ == "__main__":
    raise SystemExit(main())
