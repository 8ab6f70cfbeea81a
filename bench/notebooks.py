"""Benchmark: how long each solution notebook takes top to bottom, and what the training reaches.

    python -m bench.notebooks [--accuracy-sequences 100000]

Each notebook runs in a fresh kernel (nbclient), as nbval and nbgrader run them. The training figure comes
from the solution's own `train()` and `accuracy()` with its default settings (Adam, lr 3e-3, 601 steps of
batch 100), run once more without plotting.
"""

import argparse
import json
import platform
import time

import nbformat
from nbformat.v4 import new_code_cell

from autograder.course import STAGES, solution_notebook
from autograder.release.execute import execute_notebook

TRAINING_STAGE = "06_training"
TRAINING_PROBE = """
import json, time
start = time.perf_counter()
bench_model, bench_losses = train(plot_every=None)
seconds = time.perf_counter() - start
torch.manual_seed(12345)
print(json.dumps({"train_seconds": seconds, "final_loss": bench_losses[-1],
                  "accuracy": accuracy(bench_model, {n})}))
"""


def time_notebook(stage: str) -> float:
    path = solution_notebook(stage)
    notebook = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    execute_notebook(notebook, path.parent)
    return time.perf_counter() - start


def training_figures(sequences: int) -> dict:
    path = solution_notebook(TRAINING_STAGE)
    notebook = nbformat.read(path, as_version=4)
    notebook.cells.append(new_code_cell(TRAINING_PROBE.replace("{n}", str(sequences))))
    execute_notebook(notebook, path.parent)
    [text] = [o.text for o in notebook.cells[-1].outputs if o.get("name") == "stdout"]
    return json.loads(text)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accuracy-sequences", type=int, default=100_000)
    args = parser.parse_args(argv)
    print(f"machine: {platform.node()}, {platform.machine()}, Python {platform.python_version()}")
    print("| solution notebook | seconds (fresh kernel, top to bottom) |")
    print("|---|---|")
    total = 0.0
    for stage in STAGES:
        seconds = time_notebook(stage)
        total += seconds
        print(f"| {stage} | {seconds:.1f} |", flush=True)
    print(f"| **all {len(STAGES)}** | **{total:.1f}** |")
    figures = training_figures(args.accuracy_sequences)
    print()
    print(
        f"training (default settings, no plots): {figures['train_seconds']:.1f} s, "
        f"final loss {figures['final_loss']:.4f}, "
        f"accuracy on {args.accuracy_sequences:,} fresh sequences {figures['accuracy']:.5f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
