"""Where the grader's time goes for one notebook: `python -m bench.breakdown [STAGE] [--repeat N]`.

Measures, each N times (the median is printed):
- worker start: a fresh `python` that imports the grader's worker modules (autograder.grading.worker, nbgrader);
- kernel start: a fresh ipykernel, plain and in the sandbox (when bubblewrap is there), until it answers;
- torch import inside that kernel, and the same import in a process forked from one that already has torch;
- one graded notebook through the grader's worker, started cold (`grade.run_job`: a fresh python, a fresh
  kernel) and warm (`warm_jobs.run_job` with the warm-kernel server, as the grader runs it), split by the
  worker's own log lines into set-up, nbgrader autograde (kernel + cells + nbgrader) and feedback rendering.
"""

import argparse
import os
import statistics
import subprocess
import sys
import time

from autograder.course import ROOT

WORKER_IMPORTS = "import autograder.grading.worker, nbformat, nbgrader.apps, nbgrader.api"


def median_of(function, repeat: int) -> float:
    return statistics.median(function() for _ in range(repeat))


def worker_start() -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", WORKER_IMPORTS], cwd=ROOT, check=True)
    return time.perf_counter() - start


def kernel_times(kernel_name: str | None = None, env: dict | None = None) -> tuple[float, float]:
    """(seconds until a fresh kernel answers, seconds for `import torch` in it)."""
    from jupyter_client.manager import start_new_kernel

    old = dict(os.environ)
    os.environ.update(env or {})
    try:
        start = time.perf_counter()
        manager, client = start_new_kernel(kernel_name=kernel_name or "python3", startup_timeout=120)
        ready = time.perf_counter() - start
        start = time.perf_counter()
        reply = client.execute_interactive("import torch; torch.set_num_threads(1)", timeout=120)
        imported = time.perf_counter() - start
        assert reply["content"]["status"] == "ok", reply["content"]
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    finally:
        os.environ.clear()
        os.environ.update(old)
    return ready, imported


def forked_torch(repeat: int) -> tuple[float, float]:
    """(import torch in a fresh python, fork of a process that has torch + a small matmul in the child)."""
    code = (
        "import os, time, sys\n"
        "t = time.perf_counter(); import torch; torch.set_num_threads(1); imported = time.perf_counter() - t\n"
        "forks = []\n"
        f"for _ in range({repeat}):\n"
        "    t = time.perf_counter(); pid = os.fork()\n"
        "    if pid == 0:\n"
        "        torch.randn(100, 100) @ torch.randn(100, 100); os._exit(0)\n"
        "    os.waitpid(pid, 0); forks.append(time.perf_counter() - t)\n"
        "forks.sort(); print(imported, forks[len(forks) // 2])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env=dict(os.environ, OMP_NUM_THREADS="1"),
    ).stdout.split()
    return float(out[0]), float(out[1])


def graded_phases(stage: str, sandbox: bool, warm: bool = False) -> dict:
    """Grade the instructor's answers of `stage` once with grade_notebook; seconds per phase from the
    worker's own timings. warm: through the grader's warm servers, timed after one notebook has gone
    through them (the servers' own start is paid once per grading run)."""
    import nbformat

    from autograder.grading.core import Grader, grade_notebook
    from examples.make_submissions import answered

    data = nbformat.writes(answered(stage)).encode()
    with Grader([stage], sandbox=sandbox, warm=warm) as grader:
        if warm:
            grade_notebook(data, stage, grader=grader)
        start = time.perf_counter()
        result = grade_notebook(data, stage, grader=grader)
        total = time.perf_counter() - start
    phases = result.timings
    return {
        "status": result.status,
        "total": total,
        "setup (after imports)": phases.get("setup", 0),
        "nbgrader autograde": phases.get("autograde", 0) - phases.get("setup", 0),
        "between": phases.get("analysis", 0) - phases.get("autograde", 0),
        "feedback": phases.get("feedback", 0) - phases.get("analysis", 0),
        "after feedback + process start/exit": total - phases.get("feedback", total),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("stage", nargs="?", default="01_data")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    rows = [("worker process: python + grader/nbgrader imports", median_of(worker_start, args.repeat))]
    plain = [kernel_times() for _ in range(args.repeat)]
    rows += [
        ("plain kernel start (until it answers)", statistics.median(p[0] for p in plain)),
        ("import torch in that kernel", statistics.median(p[1] for p in plain)),
    ]
    imported, forked = forked_torch(max(args.repeat, 5))
    rows += [("import torch in a fresh python", imported), ("fork of a torch-loaded process + small matmul", forked)]
    from autograder.isolation import sandbox

    available, _ = sandbox.probe()
    for use_sandbox, warm in (
        [(False, False), (True, False), (True, True)] if available else [(False, False), (False, True)]
    ):
        phases = graded_phases(args.stage, use_sandbox, warm)
        label = ("sandbox" if use_sandbox else "no sandbox") + (", warm start" if warm else ", cold start")
        rows += [
            (f"grader, {args.stage} ({label}): {name}", seconds) for name, seconds in phases.items() if name != "status"
        ]
    print(f"| step | seconds (median of {args.repeat} where repeated) |\n|---|---|")
    for name, seconds in rows:
        print(f"| {name} | {seconds:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
