"""`python -m bench` (`make bench`): the grading benchmark, the grading service's feedback latency
(bench/latency.py), then the solution notebooks' timings.

Prints one table per part and writes everything printed to bench/RESULTS.md, headed by the machine it ran
on (CPUs, CPU model, RAM, load average, date). Exits 1 when the grader's scores differ from plain nbgrader's.

    python -m bench [--students 24] [--stages 01_data,...] [--jobs N] [--keep DIR] [--no-notebooks] [--no-cluster]
                    [--no-latency] [--latency-students 24] [--latency-stages 01_data,06_training]
"""

import argparse
import contextlib
import io
import sys
from pathlib import Path

from bench import cluster, grading, latency, notebooks

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


class Tee(io.TextIOBase):
    """Writes to the terminal and keeps a copy."""

    def __init__(self, stream):
        self.stream, self.copy = stream, io.StringIO()

    def write(self, text):
        self.stream.write(text)
        self.copy.write(text)
        return len(text)

    def flush(self):
        self.stream.flush()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    grading.add_arguments(parser)
    parser.add_argument("--no-notebooks", action="store_true", help="skip timing the solution notebooks")
    parser.add_argument("--no-latency", action="store_true", help="skip the grading service's feedback latency")
    latency.add_arguments(parser)
    parser.add_argument(
        "--no-cluster", action="store_true", help="skip grading the class on a two-worker Dask cluster on this machine"
    )
    parser.add_argument("--results", type=Path, default=RESULTS, help=f"where the tables go (default: {RESULTS})")
    args = parser.parse_args(argv)
    if args.students < 1 or (args.jobs is not None and args.jobs < 1):
        parser.error("--students and --jobs must be at least 1")
    latency_stages = [] if args.no_latency else latency.parse(args)
    tee = Tee(sys.stdout)
    print(f"machine: {grading.machine()}\n", file=tee, flush=True)
    print("## Grading: serial nbgrader vs the project's grader\n", file=tee)
    status = grading.compare(
        args.students, grading.parse_stages(args.stages), args.jobs, args.keep, stream=tee, also_cold=args.also_cold
    )
    if not args.no_latency:
        print("\n## Feedback latency of the grading service (`python -m autograder serve`)\n", file=tee, flush=True)
        latency.run(args.latency_students, latency_stages, args.latency_spread, args.jobs, stream=tee)
    if not args.no_cluster:
        print("\n## Grading on a Dask cluster: this machine vs two workers on this machine\n", file=tee, flush=True)
        status = max(status, cluster.compare(args.students, grading.parse_stages(args.stages), 2, stream=tee))
    if not args.no_notebooks:
        print("\n## Solution notebooks\n", file=tee, flush=True)
        with contextlib.redirect_stdout(tee):
            notebooks.main([])
    command = "python -m bench " + " ".join(argv if argv is not None else sys.argv[1:])
    args.results.write_text(f"# Benchmark results\n\n`{command.strip()}`\n\n{tee.copy.getvalue()}", encoding="utf-8")
    print(f"\nwritten to {args.results}")
    return status


if __name__ == "__main__":
    raise SystemExit(main())
