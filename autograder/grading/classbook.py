"""The class's nbgrader course after grading: one gradebook for formgrader and `nbgrader export`.

Each notebook is graded in a workspace of its own; this module gathers the results into
OUT/nbgrader/, an nbgrader course folder with the course's configuration:

  nbgrader_config.py    loads autograder/nbgrader_config.py, root = this folder
  source/, release/     the graded stages (source holds the hidden tests: keep this folder to yourself)
  gradebook.db          every student's autograded scores (tampered tests: a manual score of 0; flagged
                        notebooks carry nbgrader's flag), written answers waiting for a person
  autograded/<student>/<stage>/<stage>.ipynb   what the grader ran, check cells removed

so that `cd OUT/nbgrader && jupyter lab` (Formgrader tab) grades the written answers, and `nbgrader export`
or `nbgrader generate_feedback` work as in any nbgrader course.
"""

import shutil
import warnings
from pathlib import Path

from autograder.grading.result import Status
from autograder.grading.workspace import Workspace


def course_folder(out: Path) -> Path:
    return out / "nbgrader"


def autograded_copy(out: Path, student_id: str, stage: str) -> Path:
    return course_folder(out) / "autograded" / student_id / stage / f"{stage}.ipynb"


def write_course(out: Path, template: Workspace, results: list) -> Path:
    """Build OUT/nbgrader from the template workspace and the results (NotebookResult with .cells)."""
    from nbgrader.api import Gradebook

    folder = course_folder(out)
    course = Workspace(folder)
    course.write_config()
    for name in ("source", "release"):
        shutil.rmtree(folder / name, ignore_errors=True)
        shutil.copytree(template.root / name, folder / name)
    shutil.copyfile(template.root / "gradebook.db", folder / "gradebook.db")
    with warnings.catch_warnings(), Gradebook(course.db_url) as gradebook:
        warnings.simplefilter("ignore")  # SQLAlchemy's warnings about nbgrader's session use: noise
        for result in sorted(results, key=lambda r: (r.student_id, r.notebook)):
            if not result.cells or not autograded_copy(out, result.student_id, result.notebook).exists():
                continue
            record_result(gradebook, result.student_id, result.result)
        gradebook.db.commit()
    return folder


def record_result(gradebook, student_id: str, result, **submission) -> None:
    """Put one GradeResult's gradebook values (result.cells) into an open nbgrader Gradebook (not committed).
    submission: fields of nbgrader's SubmittedAssignment, e.g. timestamp."""
    gradebook.update_or_create_student(student_id)
    gradebook.update_or_create_submission(result.stage, student_id, **submission)
    notebook = gradebook.find_submission_notebook(result.stage, result.stage, student_id)
    notebook.flagged = result.status == Status.FLAGGED
    grades = {grade.cell.name: grade for grade in notebook.grades}
    comments = {comment.cell.name: comment for comment in notebook.comments}
    for gid, values in result.cells.items():
        if gid in grades:
            grade = grades[gid]
            grade.auto_score = values["auto_score"]
            grade.manual_score = values["manual_score"]
            grade.needs_manual_grade = values["needs_manual_grade"]
        if gid in comments:
            comments[gid].auto_comment = values.get("auto_comment")
