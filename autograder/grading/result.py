"""What grading one notebook gives back: its status, each test's result, the pages for the student.

Plain data, JSON-friendly (`to_dict` / `from_dict`): a result crosses process boundaries (the worker that
graded the notebook, a cluster worker) and is written to the class's tables.
"""

import base64
from dataclasses import asdict, dataclass, field
from enum import StrEnum


class Status(StrEnum):
    """What happened to one notebook (a str: it is written as is into grades.csv)."""

    GRADED = "graded"  # every cell ran (tests may have failed)
    FLAGGED = "flagged"  # grading itself was changed: the tests it could have defeated get no credit
    TIMEOUT = "timeout"  # a cell or the whole notebook ran out of time; the cells after it did not run
    KERNEL_DIED = "kernel_died"  # crash, os._exit, out of memory; the cells after it did not run
    UNREADABLE = "unreadable"  # the file is not a notebook
    MISSING = "missing"  # the student handed in no notebook for this stage
    ERROR = "error"  # the grader itself failed on this notebook (the notes say how)

    @property
    def scored(self) -> bool:
        """The notebook ran, so its points stand (some tests may not have run)."""
        return self in (Status.GRADED, Status.FLAGGED, Status.TIMEOUT, Status.KERNEL_DIED)

    @property
    def needs_attention(self) -> bool:
        return self not in (Status.GRADED, Status.MISSING)


@dataclass
class TestResult:
    name: str  # the test's grade_id
    kind: str  # "test", "hidden test" or "written answer"
    points: float | None  # None: graded by hand
    max_points: float
    result: str  # passed, failed, not run, no credit (tampering), graded by hand, no answer
    note: str = ""  # notes about code that ran before this test (it cost nothing)


@dataclass
class GradeResult:
    """The result of `grade_notebook` for one notebook of one stage.

    score and max_score count the autograded tests (written answers are graded by hand); notes are what the
    instructor should know (tampering, timeouts, how the file was read), also shown on the feedback page;
    feedback_html is nbgrader's feedback page for the student (no hidden test code); autograded_notebook is
    the notebook as graded, for the class's nbgrader course (bytes of .ipynb JSON, None when nothing ran);
    cells are the gradebook's values per grade_id; timings say where the worker's time went; log is the
    worker's log when the grader failed.
    """

    stage: str
    status: Status
    score: float
    max_score: float
    tests: list[TestResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    feedback_html: str = ""
    autograded_notebook: bytes | None = None
    cells: dict = field(default_factory=dict)
    seconds: float = 0.0
    timings: dict = field(default_factory=dict)  # seconds of the worker's phases (setup, autograde, ...)
    log: str = ""

    @property
    def detail(self) -> str:
        return "; ".join(self.notes)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["status"] = str(self.status)
        if self.autograded_notebook is not None:
            data["autograded_notebook"] = base64.b64encode(self.autograded_notebook).decode("ascii")
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "GradeResult":
        data = dict(data)
        data["status"] = Status(data["status"])
        data["tests"] = [TestResult(**test) for test in data.get("tests", [])]
        if data.get("autograded_notebook") is not None:
            data["autograded_notebook"] = base64.b64decode(data["autograded_notebook"])
        return cls(**data)
