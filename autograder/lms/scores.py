"""The points of each student and stage in an output folder of `python -m autograder grade`.

Autograded points come from grades.csv; where the class's nbgrader gradebook (OUT/nbgrader/gradebook.db) has
the notebook, its scores win: they hold what was changed in Formgrader (a tampered test given back after a
look) and the written answers graded there. A written answer not graded yet counts 0 and is named in the
feedback comment, so a second export after grading in Formgrader gives the full grade.
"""

import csv
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from autograder.grading.classbook import course_folder
from autograder.grading.outcome import StageInfo

NOT_FAILED = ("passed", "graded by hand")
STATUS_WORDS = {
    "timeout": "a cell ran too long",
    "kernel_died": "the kernel crashed",
    "unreadable": "the file is not a readable notebook",
    "flagged": "kept for a review by your instructor",
}


@dataclass
class StageScore:
    """One student's result for one stage."""

    student_id: str
    stage: str
    status: str  # grades.csv's status: graded, flagged, timeout, ..., missing, error
    score: float  # autograded points
    max_score: float  # autograded maximum
    written: float = 0.0  # written-answer points graded so far
    written_max: float = 0.0
    written_pending: int = 0  # written answers not graded yet
    failed: list[str] = field(default_factory=list)  # tests that gave no points
    detail: str = ""


@dataclass
class Mark:
    """What goes into one LMS cell: points (None: leave the cell as it is), maximum, a comment for the student."""

    points: float | None
    maximum: float
    comment: str
    problem: str = ""  # why there is no grade although the student handed something in


def _number(value: float) -> str:
    return f"{round(value, 2):.2f}".rstrip("0").rstrip(".")


def read_scores(out: Path, stages: list[str]) -> dict[str, dict[str, StageScore]]:
    """{student_id: {stage: StageScore}} for the stages asked, every student of grades.csv."""
    scores: dict[str, dict[str, StageScore]] = {}
    with (out / "grades.csv").open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row["notebook"] in stages:
                scores.setdefault(row["student_id"], {})[row["notebook"]] = StageScore(
                    row["student_id"],
                    row["notebook"],
                    row["status"],
                    float(row["score"] or 0),
                    float(row["max_score"] or 0),
                    detail=row["detail"],
                )
    tests = out / "tests.csv"
    if tests.exists():
        with tests.open(newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                found = scores.get(row["student_id"], {}).get(row["notebook"])
                if found and row["kind"] != "written answer" and row["result"] not in NOT_FAILED:
                    found.failed.append(row["test"])
    _add_gradebook(out, stages, scores)
    return scores


def _add_gradebook(out: Path, stages: list[str], scores: dict[str, dict[str, StageScore]]) -> None:
    course = course_folder(out)
    database = course / "gradebook.db"
    if not database.exists():
        return
    from nbgrader.api import Gradebook, MissingEntry

    answers = {}
    for stage in stages:
        if (course / "source" / stage / f"{stage}.ipynb").exists():
            answers[stage] = dict(StageInfo.load(course, stage).answers)
    for by_stage in scores.values():
        for stage, score in by_stage.items():
            score.written_max = sum(answers.get(stage, {}).values())
            if score.status not in ("missing", "unreadable", "error"):
                score.written_pending = len(answers.get(stage, {}))
    with warnings.catch_warnings(), Gradebook(f"sqlite:///{database}") as gradebook:
        warnings.simplefilter("ignore")  # SQLAlchemy's warnings about nbgrader's session use: noise
        for student_id, by_stage in scores.items():
            for stage, score in by_stage.items():
                try:
                    notebook = gradebook.find_submission_notebook(stage, stage, student_id)
                except MissingEntry:
                    continue
                written = answers.get(stage, {})
                tests, points, pending = 0.0, 0.0, 0
                for grade in notebook.grades:
                    if grade.name in written:
                        if grade.manual_score is None and grade.needs_manual_grade:
                            pending += 1
                        else:
                            points += (grade.score or 0) + (grade.extra_credit or 0)
                    else:
                        tests += (grade.score or 0) + (grade.extra_credit or 0)
                score.score, score.written, score.written_pending = round(tests, 4), round(points, 4), pending


def stage_comment(score: StageScore, with_written: bool) -> str:
    if score.status == "missing":
        return f"{score.stage}: not handed in"
    if score.status == "error":
        return f"{score.stage}: not graded yet"
    points = score.score + (score.written if with_written else 0)
    maximum = score.max_score + (score.written_max if with_written else 0)
    words = [f"{score.stage}: {_number(points)}/{_number(maximum)} points"]
    if score.status in STATUS_WORDS:
        words.append(STATUS_WORDS[score.status])
    if score.failed:
        shown = score.failed[:6] + ([f"{len(score.failed) - 6} more"] if len(score.failed) > 6 else [])
        words.append("no points for " + ", ".join(shown))
    if with_written and score.written_pending:
        words.append("written answers not graded yet")
    return ", ".join(words)


def mark(scores: list[StageScore], missing: str, with_written: bool) -> Mark:
    """One LMS grade from the stages of one student (one stage, or all of them for a total).
    missing: "empty" or "zero", for a student who handed in none of these stages."""
    maximum = sum(s.max_score + (s.written_max if with_written else 0) for s in scores)
    comment = "; ".join(stage_comment(s, with_written) for s in scores)
    errors = [s.stage for s in scores if s.status == "error"]
    if errors:
        return Mark(None, maximum, comment, f"the grader failed on {', '.join(errors)}: grade it again first")
    if all(s.status == "missing" for s in scores):
        return Mark(None if missing == "empty" else 0.0, maximum, comment)
    points = sum(s.score + (s.written if with_written else 0) for s in scores if s.status != "missing")
    return Mark(round(points, 4), maximum, comment)
