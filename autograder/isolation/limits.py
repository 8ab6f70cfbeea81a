"""What one student's notebook may use while it is graded, and where each limit is enforced.

- time: GuardedExecute (autograder/grading/guarded_execute.py) stops a cell after `cell_timeout` seconds and the
  notebook after `notebook_timeout` seconds in all; the worker process has a hard limit on top.
- output: GuardedExecute keeps `output` MB per notebook (and 100,000 characters of text per cell).
- memory and file size: the sandbox's prlimit (autograder/isolation/sandbox.py), or, without the sandbox, the
  `qkv-limited` kernelspec written here, which sets RLIMIT_AS and RLIMIT_FSIZE before starting ipykernel.
- one thread per kernel (KERNEL_ENV): parallel workers do not fight over the cores (on a busy 2-core
  machine torch's default thread pool makes training 10x slower) and results do not depend on --jobs.
"""
import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

LIMITED_KERNEL = "qkv-limited"
KERNEL_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "PYTHONHASHSEED": "0",
              "PYTHONNOUSERSITE": "1", "PYDEVD_DISABLE_FILE_VALIDATION": "1"}
PREPROCESSORS = ["autograder.grading.guarded_execute.GuardedExecute", "nbgrader.preprocessors.IgnorePattern",
                 "nbconvert.preprocessors.ClearMetadataPreprocessor", "nbgrader.preprocessors.LimitOutput",
                 "nbgrader.preprocessors.SaveAutoGrades", "nbgrader.preprocessors.AssignLatePenalties",
                 "nbgrader.preprocessors.CheckCellMetadata"]  # nbgrader's autograde list, Execute replaced


@dataclass(frozen=True)
class Limits:
    """What one notebook may use. Sizes in MB, times in seconds."""
    cell_timeout: int = 180       # one cell (the training stage needs about 30 s on a slow machine)
    notebook_timeout: int = 600   # all cells of a notebook together
    memory: int = 4096            # address space of the kernel (torch needs about 1 GB)
    output: int = 20              # output kept per notebook
    file_size: int = 100          # largest file the kernel may write

    def __post_init__(self):
        for name, value in asdict(self).items():
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"the limit {name} must be a positive whole number, not {value!r}")


def job_config(limits: Limits) -> str:
    """Lines for the nbgrader_config.py of a one-notebook workspace."""
    return (f"c.Autograde.autograde_preprocessors = {PREPROCESSORS!r}\n"
            f"c.GuardedExecute.timeout = {limits.cell_timeout}\n"
            f"c.GuardedExecute.notebook_timeout = {limits.notebook_timeout}\n"
            f"c.GuardedExecute.max_notebook_output = {limits.output * 1_000_000}\n"
            "c.GuardedExecute.startup_timeout = 120\n"
            "c.GuardedExecute.extra_arguments = ['--HistoryManager.hist_file=:memory:']\n")


def limited_kernel(scratch: Path, limits: Limits) -> tuple[list[str], dict[str, str]]:
    """Without the sandbox: a kernelspec that sets the memory and file size limits, then starts ipykernel.
    Returns the extra nbgrader arguments and environment variables, like sandbox.kernel_setup."""
    spec_dir = scratch / "jupyter" / "kernels" / LIMITED_KERNEL
    spec_dir.mkdir(parents=True, exist_ok=True)
    memory, file_size = limits.memory * 2**20, limits.file_size * 2**20
    setup = ("import os, resource, sys; "
             f"resource.setrlimit(resource.RLIMIT_AS, ({memory}, {memory})); "
             f"resource.setrlimit(resource.RLIMIT_FSIZE, ({file_size}, {file_size})); "
             "resource.setrlimit(resource.RLIMIT_CORE, (0, 0)); "
             "os.execv(sys.executable, [sys.executable, '-m', 'ipykernel_launcher'] + sys.argv[1:])")
    spec = {"argv": [sys.executable, "-I", "-c", setup, "-f", "{connection_file}"],
            "display_name": "Python 3 (limits)", "language": "python", "interrupt_mode": "signal",
            "metadata": {"debugger": False}}
    (spec_dir / "kernel.json").write_text(json.dumps(spec, indent=1), encoding="utf-8")
    return [f"--ExecutePreprocessor.kernel_name={LIMITED_KERNEL}"], {"JUPYTER_PATH": str(scratch / "jupyter")}


def sandbox_kernel(scratch: Path, limits: Limits, warm_kernels: str | None = None) -> tuple[list[str], dict[str, str]]:
    """With the sandbox: its kernelspec, with these limits (its own defaults for processes and /tmp);
    warm_kernels: the socket of a warm-kernel server (autograder/isolation/warm_kernels.py), or None."""
    from autograder.isolation import sandbox

    sandbox_limits = sandbox.Limits(memory=limits.memory, file_size=limits.file_size,
                                    cpu_seconds=limits.notebook_timeout + 60)
    return sandbox.kernel_setup(scratch, sandbox_limits, warm_kernels)
