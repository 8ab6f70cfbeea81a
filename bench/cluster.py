"""Benchmark: the same class graded on this machine and on a two-worker Dask cluster on this machine.

    python -m bench.cluster [--students 8] [--stages 01_data,...] [--jobs 2]

The cluster is real (tests/dask_cluster.py: a `dask scheduler` and two `dask worker` processes, one thread
each, on 127.0.0.1), so the row measures what a cluster adds: the workers' graders starting, the notebooks'
bytes and results crossing the network, the scheduler. Both runs get the same number of grading slots
(--jobs 2 here, two one-thread workers there) on the same CPUs. From the cluster's cost per notebook and
slot it projects a 5,000-student class (7 stages: 35,000 notebooks) on N worker machines.
"""

import argparse
import csv
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from autograder.course import ROOT, STAGES
from bench import grading

CLASS_STUDENTS, CLASS_NOTEBOOKS = 5000, 5000 * len(STAGES)


def _scores(out: Path) -> dict:
    with (out / "grades.csv").open(encoding="utf-8") as handle:
        return {(row["student_id"], row["notebook"]): float(row["score"]) for row in csv.DictReader(handle)}


def grade_on_cluster(submissions: Path, stages: list[str], out: Path, address: str) -> grading.Run:
    command = [
        sys.executable,
        "-m",
        "autograder",
        "grade",
        str(submissions),
        "--out",
        str(out),
        "--notebooks",
        ",".join(stages),
        "--cluster",
        address,
    ]
    start = time.perf_counter()
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(f"the grader failed (exit {result.returncode}):\n{result.stdout}{result.stderr}")
    return grading.Run("autograder grade --cluster (2 workers x 1 thread)", _scores(out), seconds, 0.0)


def compare(students: int, stages: list[str], jobs: int = 2, stream=sys.stdout, keep: Path | None = None) -> int:
    """Grade the class both ways, print the table and the projection; 0 when the scores agree."""
    from tests.dask_cluster import LoopbackCluster

    folder = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="qkv-bench-cluster-"))
    try:
        folder.mkdir(parents=True, exist_ok=True)
        kinds = grading.build_class(folder / "class", students, stages)
        notebooks = len(kinds)
        print(
            f"class: {students} students x {len(stages)} stages ({', '.join(stages)}) = {notebooks} notebooks",
            file=stream,
            flush=True,
        )
        local = grading.grade_project(folder / "class", stages, folder / "local", jobs)
        with LoopbackCluster(folder / "dask", workers=2, threads=1) as cluster:
            remote = grade_on_cluster(folder / "class", stages, folder / "remote", cluster.address)
        runs = [(local, jobs), (remote, 2)]
        print(
            "\n| grading | slots | seconds | notebooks per second | notebooks per second per slot "
            "| slot-seconds per notebook |",
            file=stream,
        )
        print("|---|---|---|---|---|---|", file=stream)
        for run, slots in runs:
            rate = notebooks / run.seconds
            print(
                f"| {run.name} | {slots} | {run.seconds:.1f} | {rate:.2f} | {rate / slots:.3f} "
                f"| {run.seconds * slots / notebooks:.2f} |",
                file=stream,
            )
        # A notebook's own time on its worker slot (from start to result, the journal's `seconds`) and what
        # the run spent besides (the workers' graders starting, the class's gradebook, the tables).
        entries = [json.loads(line) for line in (folder / "remote" / "journal.jsonl").read_text().splitlines()]
        cost = sum(e["result"]["seconds"] for e in entries) / len(entries)
        fixed = max(0.0, remote.seconds - cost * notebooks / 2)
        print(
            f"\nOn the cluster one notebook took {cost:.2f} s of its worker slot (mean, start to result); the run "
            f"spent about {fixed:.0f} s besides (graders starting on the workers, the gradebook, the tables).",
            file=stream,
        )
        print(
            f"A class of {CLASS_STUDENTS:,} students x {len(STAGES)} stages = {CLASS_NOTEBOOKS:,} notebooks at that "
            f"cost per notebook (the stages measured here: {', '.join(stages)}):",
            file=stream,
        )
        for machines, slots in ((1, 3), (10, 3), (50, 3), (100, 3)):
            hours = (CLASS_NOTEBOOKS * cost / (machines * slots) + fixed) / 3600
            print(f"- {machines} worker machine(s) x {slots} slots: {hours:.1f} h", file=stream)
        wrong = grading.differences(local.scores, remote.scores, kinds)
        if wrong:
            print(f"\nSCORES DIFFER for {len(wrong)} of {notebooks} notebooks:", file=stream)
            for line in wrong:
                print(f"  {line}", file=stream)
            return 1
        print(f"scores: identical for all {notebooks} notebooks locally and on the cluster", file=stream, flush=True)
        return 0
    finally:
        if not keep:
            shutil.rmtree(folder, ignore_errors=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=8, help="students in the class (default 8)")
    parser.add_argument("--stages", help="comma-separated stages (default: 01_data)")
    parser.add_argument("--jobs", type=int, default=2, help="the local run's --jobs (default 2: the cluster's slots)")
    parser.add_argument("--keep", type=Path, help="build and grade in this folder and keep it")
    args = parser.parse_args(argv)
    stages = grading.parse_stages(args.stages) if args.stages else ["01_data"]
    print(f"machine: {grading.machine()}", flush=True)
    return compare(args.students, stages, args.jobs, keep=args.keep)


if __name__ == "__main__":
    raise SystemExit(main())
