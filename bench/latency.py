"""Benchmark: how soon students get feedback from the grading service (`python -m autograder serve`).

    python -m bench.latency [--students 24] [--stages 01_data,06_training] [--spread 3] [--jobs N]

For each stage: a fresh exchange and course folder, the service started as the hub starts it (its own
process, the sandbox and warm servers as the machine allows, no hourly limit) and given one submission to
warm up; then `students` students submit the stage within `spread` seconds (nbgrader's own submit code,
in this process, at evenly spaced moments; a mix of correct, wrong, broken and blank notebooks as in
bench/grading.py). The latency of a submission is the time from the end of its `submit` to the moment its
feedback page is in the exchange, where `nbgrader fetch_feedback` finds it (polled every 20 ms).
"""

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from autograder.course import ROOT, STAGES
from autograder.nbgrader_cli import nbgrader_env
from bench.grading import KINDS, machine, submission

DEFAULT_STAGES = ["01_data", "06_training"]
POLL = 0.02


@dataclass
class Latencies:
    stage: str
    seconds: list[float]  # one per submission, in submission order
    spread: float  # seconds between the first and the last submit
    load_before: tuple[float, float, float]
    grading: list[float] = ()  # seconds grade_notebook took for each (from the service's results)

    def percentile(self, p: float) -> float:
        """Nearest-rank percentile (p in 0..100)."""
        ordered = sorted(self.seconds)
        rank = max(1, -(-len(ordered) * p // 100))  # ceil
        return ordered[int(rank) - 1]

    def row(self) -> str:
        load = ", ".join(f"{x:.1f}" for x in self.load_before)
        grading = f"{statistics.median(self.grading):.1f}" if self.grading else "-"
        return (
            f"| {self.stage} | {len(self.seconds)} in {self.spread:.1f} s | {self.percentile(50):.1f} | "
            f"{self.percentile(95):.1f} | {max(self.seconds):.1f} | {statistics.mean(self.seconds):.1f} | "
            f"{grading} | {load} |"
        )


HEADER = (
    "| stage | submissions | p50 (s) | p95 (s) | max (s) | mean (s) | grading one notebook, median (s) "
    "| load average before |\n|---|---|---|---|---|---|---|---|"
)


def start_service(course: Path, exchange: Path, stage: str, jobs: int | None, log: Path) -> subprocess.Popen:
    command = [
        sys.executable,
        "-m",
        "autograder",
        "serve",
        "--course",
        str(course),
        "--exchange",
        str(exchange),
        "--notebooks",
        stage,
        "--max-per-hour",
        "0",
        "--poll",
        "0.1",
    ]
    if jobs:
        command += ["--jobs", str(jobs)]
    with log.open("w") as stream:
        return subprocess.Popen(command, cwd=ROOT, env=nbgrader_env(), stdout=stream, stderr=subprocess.STDOUT)


def wait_for(condition, timeout: float, what: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if process.poll() is not None:
            raise RuntimeError(f"the service ended (exit {process.returncode}):\n{log.read_text()[-3000:]}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}:\n{log.read_text()[-3000:]}")
        time.sleep(POLL)


def measure(stage: str, students: int, spread: float, jobs: int | None, folder: Path, stream=sys.stdout) -> Latencies:
    from tests.exchange_class import Exchange

    exchange = Exchange(folder / "exchange", [stage])
    course, log = folder / "course", folder / f"service-{stage}.log"
    process = start_service(course, exchange.root, stage, jobs, log)
    try:
        wait_for(lambda: "INFO ready:" in log.read_text(), 600, "the service to start", process, log)
        warm_up = exchange.student("warm-up", folder / "home")
        key = warm_up.submit_now(stage, submission(stage, "correct", 0))
        page = warm_up.published_page(key, stage)
        wait_for(page.exists, 600, "the warm-up feedback", process, log)
        notebooks = [submission(stage, KINDS[n % len(KINDS)], n) for n in range(students)]
        people = [exchange.student(f"s{n + 1:03d}", folder / "home") for n in range(students)]
        load = os.getloadavg()
        gap = spread / max(students - 1, 1)
        start = time.monotonic()
        submitted, pages, done = [], [], {}
        for n, (person, notebook) in enumerate(zip(people, notebooks)):
            time.sleep(max(0.0, start + n * gap - time.monotonic()))
            key = person.submit_now(stage, notebook)
            submitted.append(time.monotonic())
            pages.append(person.published_page(key, stage))
            _check(pages, submitted, done)
        last_submit = submitted[-1] - start
        wait_for(lambda: _check(pages, submitted, done) == students, 3600, "every feedback page", process, log)
        print(
            f"{stage}: {students} submissions in {last_submit:.1f} s, all feedback after "
            f"{max(done[i] + submitted[i] for i in done) - start:.1f} s",
            file=stream,
            flush=True,
        )
        return Latencies(stage, [done[i] for i in range(students)], last_submit, load, _grading_seconds(course))
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()


def _grading_seconds(course: Path) -> list[float]:
    """How long grade_notebook took for each submission (the results the service keeps), warm-up excluded."""
    import json

    results = course / "autograder-service" / "results"
    return [
        json.loads(path.read_text())["seconds"]
        for path in results.glob("*.json")
        if not path.name.startswith("warm-up+")
    ]


def _check(pages: list[Path], submitted: list[float], done: dict) -> int:
    """Record the latency of every page that appeared since the last look; returns how many are done."""
    now = time.monotonic()
    for index, page in enumerate(pages):
        if index not in done and page.exists():
            done[index] = now - submitted[index]
    return len(done)


def run(students: int, stages: list[str], spread: float, jobs: int | None, stream=sys.stdout) -> list[Latencies]:
    results = []
    for stage in stages:
        folder = Path(tempfile.mkdtemp(prefix="qkv-latency-"))
        try:
            results.append(measure(stage, students, spread, jobs, folder, stream))
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    print("", file=stream)
    print(HEADER, file=stream)
    for result in results:
        print(result.row(), file=stream)
    print(
        f"\nlatency: from the end of a student's `nbgrader submit` to the feedback page in the exchange "
        f"(what `nbgrader fetch_feedback` fetches); {students} student(s) submit within {spread:g} s, "
        f"after one warm-up submission; the service's defaults" + (f" and --jobs {jobs}" if jobs else ""),
        file=stream,
        flush=True,
    )
    return results


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--latency-students", type=int, default=24, help="students submitting at once (default 24)")
    parser.add_argument(
        "--latency-stages",
        default=",".join(DEFAULT_STAGES),
        help=f"stages measured (default {','.join(DEFAULT_STAGES)})",
    )
    parser.add_argument(
        "--latency-spread",
        type=float,
        default=3.0,
        help="seconds between the first and the last submission (default 3)",
    )


def parse(args) -> list[str]:
    stages = [s.strip() for s in args.latency_stages.split(",") if s.strip()]
    unknown = [s for s in stages if s not in STAGES]
    if unknown:
        raise SystemExit(f"error: unknown stage(s) {', '.join(unknown)}; the course has {', '.join(STAGES)}")
    if args.latency_students < 1 or args.latency_spread < 0:
        raise SystemExit("error: --latency-students must be at least 1 and --latency-spread at least 0")
    return stages


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    parser.add_argument("--jobs", type=int, default=None, help="the service's --jobs (default: its own)")
    args = parser.parse_args(argv)
    stages = parse(args)
    print(f"machine: {machine()}", flush=True)
    run(args.latency_students, stages, args.latency_spread, args.jobs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
