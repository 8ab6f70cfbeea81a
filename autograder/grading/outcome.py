"""Reading what nbgrader did with one notebook: its status, the result of each test, the student's page.

After `nbgrader autograde`, the autograded notebook carries what GuardedExecute recorded in the cells'
metadata (`autograder.event`: timeout, kernel_died, not_run, output_truncated; `autograder.reply` of the
grader's check cells). `analyse` turns that and the static findings into a status and the point from which
tests get no credit (autograder/grading/integrity.py explains the rule), and collects the notes (what the static
scan found, what the kernel's checks noted: never a lost point); `score_tests` writes those zeros into the
gradebook as manual scores and lists every test; `feedback_notebook` makes the version the student sees.
"""

from dataclasses import dataclass, field
from pathlib import Path

from autograder.grading import integrity
from autograder.grading.cells import grade_id, is_grade, is_test, is_written_answer, points
from autograder.grading.integrity import META
from autograder.grading.result import Status, TestResult

HIDDEN_MARK = "### BEGIN HIDDEN TESTS"
# nbgrader's markers of hidden tests: in a student's own cell, nbgrader's feedback would refuse the notebook
NBGRADER_MARKERS = ("BEGIN HIDDEN TESTS", "END HIDDEN TESTS")


@dataclass
class StageInfo:
    """What the course's notebook of a stage holds, read from the template workspace."""

    release: object  # nbgrader's student version (NotebookNode)
    tests: list[tuple[str, float, bool]]  # (grade_id, points, hidden) in notebook order
    answers: list[tuple[str, float]]  # written answers graded by hand

    @classmethod
    def load(cls, template: Path, stage: str) -> "StageInfo":
        import nbformat

        release = nbformat.read(template / "release" / stage / f"{stage}.ipynb", as_version=4)
        source = nbformat.read(template / "source" / stage / f"{stage}.ipynb", as_version=4)
        tests, answers = [], []
        for cell in source.cells:
            if is_written_answer(cell):
                answers.append((grade_id(cell), points(cell)))
            elif is_test(cell):
                tests.append((grade_id(cell), points(cell), HIDDEN_MARK in cell.source))
        return cls(release, tests, answers)

    @property
    def max_score(self) -> float:
        return sum(points for _, points, _ in self.tests)


@dataclass
class Analysis:
    flags: list[str] = field(default_factory=list)  # reasons for `flagged`
    events: list[str] = field(default_factory=list)  # timeouts, kernel deaths, truncated output
    status: Status = Status.GRADED
    taint_from: int | None = None  # tests at this cell index or later get no credit
    not_run: set = field(default_factory=set)  # grade_ids of tests that did not run
    notes: list[str] = field(default_factory=list)  # worth a look, cost nothing
    test_notes: dict = field(default_factory=dict)  # grade_id -> notes about code that ran before it


def _label(cell, number: int) -> str:
    gid = grade_id(cell)
    return f"cell {number}" + (f" ({gid})" if gid else "")


def analyse(notebook, findings: list) -> Analysis:
    """Read the events and verdicts GuardedExecute recorded, combine them with the static findings."""
    result = Analysis()
    number = 0
    pending = []  # notes so far, for the tests that follow
    positions = {f.cell for f in findings}
    for index, cell in enumerate(notebook.cells):
        position = cell.metadata.get(META, {}).get("position")
        if position in positions:
            pending += [f"cell {position + 1}: " + f.reason.split(" ", 2)[2] for f in findings if f.cell == position]
        record = cell.metadata.get(META, {})
        if record.get("role") != "check":
            number += 1
        event = record.get("event")
        label = "a check cell of the grader" if record.get("role") == "check" else _label(cell, number)
        if event == "kernel_died":
            result.events.append(f"the kernel died in {label} ({record.get('detail', '')})")
            result.status = Status.KERNEL_DIED
        elif event == "timeout":
            result.events.append(f"{label} ran longer than {record.get('detail', 'its time limit')}")
            result.status = Status.TIMEOUT
        elif event == "output_truncated":
            result.events.append(f"output of {label} truncated")
        if event in ("not_run", "timeout", "kernel_died"):
            gid = grade_id(cell)
            if gid:
                result.not_run.add(gid)
        if record.get("role") == "check":
            for note in integrity.verdict_notes(cell):
                if note not in result.notes:
                    result.notes.append(note)
                    pending.append(note)
            if record.get("check") == "before" and record.get("test") and pending:
                result.test_notes[record["test"]] = pending
                pending = []
            state, detail = integrity.read_verdict(cell, record.get("nonce", ""))
            if state in ("tampered", "missing"):
                if detail not in result.flags:
                    result.flags.append(detail)
                # the test just before an after-check ran with the tampering in place
                if result.taint_from is None:
                    result.taint_from = index - 1
    # the static scan's findings are notes: a blocklist flags honest habits; the kernel sees the effects
    result.notes = [f.reason for f in findings] + result.notes
    if result.flags:
        result.status = Status.FLAGGED
    return result


def tainted_tests(notebook, analysis: Analysis) -> set[str]:
    """grade_ids of tests that ran at or after the first point of tampering (or whose after-check failed)."""
    if analysis.taint_from is None:
        return set()
    tests = set()
    for index, cell in enumerate(notebook.cells):
        if is_test(cell) and index >= analysis.taint_from:
            tests.add(grade_id(cell))
    return tests


def score_tests(
    workspace,
    stage: str,
    student: str,
    info: StageInfo,
    tainted: set[str],
    not_run: set[str],
    test_notes: dict | None = None,
) -> list[TestResult]:
    """Per-test results from the gradebook; tainted tests that passed get a manual score of 0 there."""
    from nbgrader.api import Gradebook

    results = []
    test_notes = test_notes or {}
    with Gradebook(workspace.db_url) as gradebook:
        grades = {g.cell.name: g for g in gradebook.find_submission_notebook(stage, stage, student).grades}
        for gid, points, hidden in info.tests:
            grade = grades.get(gid)
            auto = grade.auto_score if grade is not None and grade.auto_score is not None else 0.0
            if gid in tainted and auto > 0:
                grade.manual_score = 0.0
                grade.needs_manual_grade = True
                outcome, auto = "no credit (tampering)", 0.0
            elif gid in not_run:
                outcome = "not run"
            else:
                outcome = "passed" if auto >= points else "failed"
            results.append(
                TestResult(
                    gid, "hidden test" if hidden else "test", auto, points, outcome, "; ".join(test_notes.get(gid, []))
                )
            )
        for gid, points in info.answers:
            grade = grades.get(gid)
            blank = grade is not None and grade.auto_score == 0
            results.append(
                TestResult(
                    gid, "written answer", 0.0 if blank else None, points, "no answer" if blank else "graded by hand"
                )
            )
        gradebook.db.commit()
    return results


def gradebook_cells(workspace, stage: str, student: str) -> dict:
    """{grade_id: scores and flags} of the one submission in the workspace's gradebook."""
    from nbgrader.api import Gradebook

    with Gradebook(workspace.db_url) as gradebook:
        notebook = gradebook.find_submission_notebook(stage, stage, student)
        cells = {
            g.cell.name: {
                "auto_score": g.auto_score,
                "manual_score": g.manual_score,
                "needs_manual_grade": bool(g.needs_manual_grade),
            }
            for g in notebook.grades
        }
        for comment in notebook.comments:
            cells.setdefault(comment.cell.name, {})["auto_comment"] = comment.auto_comment
    return cells


def feedback_notebook(notebook, analysis: Analysis, tainted: set[str], notes: list[str]):
    """The autograded notebook as the student may see it: check cells removed, hidden tests' error
    details (tracebacks show their code) and warnings removed, the grader's notes added."""
    from nbformat import v4

    cells = []
    for cell in notebook.cells:
        record = cell.metadata.pop(META, {})
        if record.get("role") == "check":
            continue
        gid = grade_id(cell)
        if not is_grade(cell):
            cell.source = _disarm_markers(cell.source)
        if cell.cell_type == "code" and HIDDEN_MARK in cell.source:
            outputs = []
            for output in cell.outputs:
                if output.output_type == "error":
                    output.traceback = [
                        f"{output.ename}: {output.evalue}",
                        "(the details of a failing hidden test are not shown)",
                    ]
                elif output.output_type == "stream" and output.name == "stderr":
                    continue
                outputs.append(output)
            cell.outputs = outputs
        if gid in tainted:
            cells.append(
                v4.new_markdown_cell(
                    "**No credit for the next test:** the grader found code that can "
                    "make tests pass without being right (see the top of this page). "
                    "Your instructor will review this notebook."
                )
            )
        cells.append(cell)
    lines = [f"- {text}" for text in analysis.flags + analysis.events + notes]
    if lines:
        title = (
            "**Flagged for review by your instructor.** The grader found:"
            if analysis.flags
            else "**Notes from the grader:**"
        )
        cells.insert(0, v4.new_markdown_cell(title + "\n\n" + "\n".join(lines)))
    notebook.cells = cells
    return notebook


def _disarm_markers(source: str) -> str:
    """A student's own cell that prints nbgrader's hidden-test markers: the same text with a no-break space,
    so that nbgrader's feedback does not take it for a misplaced hidden test and refuse the notebook."""
    for marker in NBGRADER_MARKERS:
        source = source.replace(marker, marker.replace(" ", "\u00a0"))
    return source
