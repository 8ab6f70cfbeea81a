"""The run's journal: one line per graded notebook, appended and fsynced as each result arrives.

OUT/journal.jsonl is what `--resume` reads and what the class's tables are built from. Each line is

    {"task": "ada/01_data", "student_id": "ada", "fingerprint": "...", "result": {GradeResult.to_dict()
     without the feedback page, the autograded notebook and the log (those are files in OUT already)}}

A task's fingerprint is a hash of what decides its result: the notebook's bytes (or that it is missing),
the stage, the limits, the sandbox setting, the notes collecting made, and the grader's version (a hash of
the grading code and the course's hidden tests, `grader_version`). `--resume` keeps a result whose task has
the same fingerprint now and grades every other task: new, changed, or not graded yet. A line cut short
by a killed process is skipped; the last line of a task wins, so a task is never counted twice.
"""

import hashlib
import json
import os
from functools import lru_cache
from pathlib import Path

from autograder.course import ROOT, SOLUTIONS
from autograder.grading.result import GradeResult, Status
from autograder.isolation.limits import Limits

JOURNAL = "journal.jsonl"
# What a result in the journal leaves out: kept as files in the output folder (feedback/, nbgrader/, logs/).
FILE_FIELDS = ("feedback_html", "autograded_notebook", "log")


@lru_cache(maxsize=1)
def grader_version() -> str:
    """A hash of everything that decides a grade on this machine: the grading and isolation code, the
    course's solution notebooks (the hidden tests) and nbgrader's version. Two machines grade alike when
    their versions agree (the cluster's workers are checked against the client's). Computed once per
    process; `current_grader_version()` reads the files again."""
    return current_grader_version()


def current_grader_version() -> str:
    import nbgrader

    digest = hashlib.sha256(f"nbgrader {nbgrader.__version__}\n".encode())
    files = sorted([*(ROOT / "autograder").rglob("*.py"), *SOLUTIONS.glob("*/*.ipynb")])
    for path in files:
        if "release" in path.relative_to(ROOT).parts:  # the release tooling does not grade
            continue
        digest.update(path.relative_to(ROOT).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def fingerprint(data: bytes | None, stage: str, limits: Limits, sandbox: bool, notes: tuple[str, ...]) -> str:
    """The hash of one task's inputs (see the module's docstring)."""
    digest = hashlib.sha256()
    digest.update(b"missing" if data is None else b"bytes:" + hashlib.sha256(data).digest())
    settings = {
        "stage": stage,
        "limits": limits.to_dict(),
        "sandbox": sandbox,
        "notes": list(notes),
        "grader": grader_version(),
    }
    digest.update(json.dumps(settings, sort_keys=True).encode())
    return digest.hexdigest()


def task_id(student_id: str, stage: str) -> str:
    return f"{student_id}/{stage}"


class Journal:
    """OUT/journal.jsonl: `load()` what earlier runs graded, `append()` each new result (fsynced)."""

    def __init__(self, out: Path):
        self.path = Path(out) / JOURNAL
        self._handle = None

    def load(self) -> dict[str, tuple[str, str, GradeResult]]:
        """{task id: (student_id, fingerprint, result)} of the complete lines; the last line of a task wins."""
        entries = {}
        if not self.path.exists():
            return entries
        with self.path.open(encoding="utf-8") as handle:
            for line in handle:
                try:
                    entry = json.loads(line)
                    result = GradeResult.from_dict(entry["result"])
                    entries[entry["task"]] = (entry["student_id"], entry["fingerprint"], result)
                except (ValueError, KeyError, TypeError):
                    continue  # a line cut short when the run was killed: that task is graded again
        return entries

    def append(self, student_id: str, fingerprint_: str, result: GradeResult) -> None:
        data = result.to_dict()
        for name in FILE_FIELDS:
            data.pop(name, None)
        line = json.dumps(
            {
                "task": task_id(student_id, result.stage),
                "student_id": student_id,
                "fingerprint": fingerprint_,
                "result": data,
            },
            sort_keys=True,
        )
        if self._handle is None:
            self._handle = self.path.open("a", encoding="utf-8")
        self._handle.write(line + "\n")
        self._handle.flush()
        os.fsync(self._handle.fileno())

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


def reusable(result: GradeResult) -> bool:
    """A journalled result that --resume keeps: not a failure of the grader or the cluster (those are graded
    again, they may have been passing troubles)."""
    return result.status != Status.ERROR
