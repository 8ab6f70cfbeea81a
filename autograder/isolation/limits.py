"""What one student's notebook may use while it is graded, and the environment its kernel runs in.

One `Limits` holds every limit; where each is enforced:

- time: the grader's execute preprocessor (autograder/grading/guarded_execute.py) stops a cell after
  `cell_timeout` seconds and the notebook after `notebook_timeout` seconds in all; the kernel's CPU time is
  capped at `cpu_seconds` (default: the notebook's time plus a minute); the worker process has a hard limit.
- output: the execute preprocessor keeps `output` MB per notebook (and 100,000 characters of text per cell).
- memory, file size, processes, private folders: the sandbox (prlimit and tmpfs sizes,
  autograder/isolation/sandbox.py), or without it the `qkv-limited` kernelspec (autograder/isolation/
  unsandboxed.py), which sets the memory and file size limits before ipykernel starts.

`KERNEL_ENV` is the one environment every grading kernel gets, sandboxed or not, cold or forked warm: it is
written into the kernelspec (or the sandbox's settings) and the warm-kernel server imports torch with it.
One thread per kernel: parallel workers do not fight over the cores (on a busy 2-core machine torch's default
thread pool makes training 10x slower) and results do not depend on how many notebooks run at once.
"""

from dataclasses import asdict, dataclass

KERNEL_ENV = {
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "PYTHONHASHSEED": "0",
    "PYTHONDONTWRITEBYTECODE": "1",
    "PYDEVD_DISABLE_FILE_VALIDATION": "1",
    "MPLBACKEND": "module://matplotlib_inline.backend_inline",
    "MALLOC_ARENA_MAX": "2",
}


@dataclass(frozen=True)
class Limits:
    """What one notebook may use. Sizes in MB, times in seconds; every value a positive whole number."""

    cell_timeout: int = 180  # one cell (the training stage needs about 30 s on a slow machine)
    notebook_timeout: int = 600  # all cells of a notebook together
    memory: int = 4096  # address space of each kernel process (torch needs about 1 GB)
    output: int = 20  # output kept per notebook
    file_size: int = 100  # largest file the kernel may write
    processes: int = 256  # processes and threads in the sandbox at the same time
    tmp_space: int = 512  # memory for each private folder of the sandbox: HOME (with the notebook), /tmp, /dev/shm
    cpu_seconds: int | None = None  # CPU time of each kernel process; None: notebook_timeout + 60

    def __post_init__(self):
        for name, value in asdict(self).items():
            if name == "cpu_seconds" and value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"the limit {name} must be a positive whole number, not {value!r}")

    @property
    def cpu_time(self) -> int:
        """The kernel's CPU-time limit in seconds."""
        return self.cpu_seconds if self.cpu_seconds is not None else self.notebook_timeout + 60

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Limits":
        return cls(**data)
