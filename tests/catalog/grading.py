"""Grade catalog entries through the real grading path and judge the results.

Every entry becomes one student of an nbgrader course (autograder.grading.workspace.Workspace); all students of a
stage are autograded in one `nbgrader autograde` run. The feedback of a test is the error it raised, read
from the autograded notebook (autograded/<student>/<stage>/<stage>.ipynb).
"""

import contextlib
import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from tests.plain_nbgrader import PlainCourse

from .entry import Entry
from .submission import build, reference_answers, write

ANSI = re.compile(r"\x1b\[[0-9;]*m")


@dataclass
class Outcome:
    """What grading did with one entry."""

    entry: Entry
    score: float = 0.0
    max_score: float = 0.0
    failed: tuple = ()  # grade_ids of the tests that lost points
    messages: dict = field(default_factory=dict)  # grade_id -> error text of that test cell

    @property
    def first_message(self) -> str:
        """The error the student reads first: of the first expected test, else of the first failed one."""
        for test in self.entry.fails + self.failed:
            if self.messages.get(test):
                return self.messages[test]
        return ""

    def problems(self) -> list[str]:
        """Why this outcome is not what the catalog expects (empty: as expected)."""
        entry = self.entry
        if self.max_score == 0:
            return ["the submission was not graded"]
        if entry.kind != "mistake":
            if self.failed or self.score < self.max_score:
                lost = "; ".join(f"{t}: {self.messages.get(t, '')[:200]}" for t in self.failed)
                return [f"scored {self.score:g}/{self.max_score:g}, lost points in {lost}"]
            return []
        problems = []
        if set(self.failed) != set(entry.fails):
            problems.append(f"expected to fail {sorted(entry.fails)}, failed {sorted(self.failed)}")
        shown = self.messages.get(entry.fails[0], "")
        if entry.says.lower() not in shown.lower():
            problems.append(f"the feedback of {entry.fails[0]} does not say {entry.says!r}: {shown[:300]!r}")
        return problems


def feedback_of(path: Path) -> dict[str, str]:
    """{grade_id: error text} of the autograded test cells that raised or wrote to stderr."""
    messages = {}
    for cell in nbformat.read(path, as_version=4).cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell.cell_type != "code" or not meta.get("grade") or meta.get("solution"):
            continue
        texts = [f"{o.ename}: {o.evalue}" for o in cell.get("outputs", []) if o.output_type == "error"]
        texts += [
            f"stderr: {o.text.strip()}"
            for o in cell.get("outputs", [])
            if o.output_type == "stream" and o.name == "stderr"
        ]
        if texts:
            messages[meta["grade_id"]] = ANSI.sub("", " | ".join(texts))
    return messages


@contextlib.contextmanager
def one_thread_per_kernel():
    """Kernels inherit OMP_NUM_THREADS=1: on a busy machine torch's thread pool makes training 10x slower."""
    old = os.environ.get("OMP_NUM_THREADS")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("OMP_NUM_THREADS", None)


def grade_stage(stage: str, entries: list[Entry], folder: Path) -> dict[str, Outcome]:
    """Autograde the entries of one stage, each as its own student, in one nbgrader run."""
    workspace = PlainCourse(folder).create([stage])
    answers = reference_answers(stage)
    for entry in entries:
        notebook = build(stage, entry.cell, entry.code, answers)
        workspace.submit(entry.name, stage, write(notebook, folder / "entries" / f"{entry.name}.ipynb"))
    workspace.autograde(stage)
    outcomes = {entry.name: Outcome(entry) for entry in entries}
    for score in workspace.scores(stage):
        outcome = outcomes.get(score.student)
        if outcome is None:
            continue  # a student left in a kept folder by an earlier run
        outcome.score, outcome.max_score, outcome.failed = score.score, score.max_score, score.failed_tests
        outcome.messages = feedback_of(workspace.root / "autograded" / score.student / stage / f"{stage}.ipynb")
    return outcomes


def grade(entries: list[Entry], folder: Path, jobs: int = 1) -> dict[str, Outcome]:
    """Grade all entries, one workspace per stage under `folder`; `jobs` stages at a time."""
    names = [entry.name for entry in entries]
    duplicates = {name for name in names if names.count(name) > 1}
    if duplicates:
        raise ValueError(f"catalog entries must have unique names: {sorted(duplicates)}")
    by_stage: dict[str, list[Entry]] = {}
    for entry in entries:
        by_stage.setdefault(entry.stage, []).append(entry)
    outcomes: dict[str, Outcome] = {}
    with one_thread_per_kernel(), ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = [pool.submit(grade_stage, stage, group, Path(folder) / stage) for stage, group in by_stage.items()]
        for future in futures:
            outcomes.update(future.result())
    return {name: outcomes[name] for name in names}
