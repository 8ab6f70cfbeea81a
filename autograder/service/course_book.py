"""The instructor's course folder, kept up to date by the service (an nbgrader course, as the class
command's OUT/nbgrader; on the class hub: the Formgrader's course folder).

  nbgrader_config.py, source/, release/   written only when the folder is not an nbgrader course yet
  gradebook.db                            the latest graded submission of each student and stage: autograded
                                          scores; written answers wait for a person in Formgrader
  submitted/<student>/<stage>/            that submission as handed in (with timestamp.txt)
  autograded/<student>/<stage>/           the notebook as graded (Formgrader opens it)
  feedback/<student>/<stage>/             the student's page, timestamp.txt, submission_secret.txt (what
                                          `nbgrader release_feedback` would publish: the same page)
  grades.csv, tests.csv, collected.csv    the class's tables (autograder/grading/report.py); collected.csv
                                          lists every submission and what the service did with it
"""

import shutil
import warnings
from pathlib import Path

from autograder.grading.batch import ClassResult
from autograder.grading.classbook import record_result
from autograder.grading.report import write_tables
from autograder.grading.result import GradeResult
from autograder.grading.workspace import Workspace
from autograder.service.exchange import SECRET_FILE, TIMESTAMP_FILE, write_durably


class CourseBook:
    def __init__(self, root: Path, course_id: str):
        self.root = Path(root).resolve()
        self.course_id = course_id
        self.workspace = Workspace(self.root)

    def prepare(self, template: Path, stages: list[str]) -> None:
        """Make the folder an nbgrader course if it is not one; give its gradebook every stage to grade."""
        if not self.workspace.config_file.exists():
            self.workspace.write_config()
            for stage in stages:
                for part in ("source", "release"):
                    if not (self.root / part / stage).exists():
                        shutil.copytree(Path(template) / part / stage, self.root / part / stage)
        self._copy_assignments(Workspace(template), stages)

    def _copy_assignments(self, template: Workspace, stages: list[str]) -> None:
        """Stages the course's gradebook lacks (the instructor never generated them there) get the template's
        definition: notebooks and cells with their points, as `nbgrader generate_assignment` records them."""
        from nbgrader.api import Gradebook, MissingEntry

        with (
            warnings.catch_warnings(),
            Gradebook(self.workspace.db_url, self.course_id) as course,
            Gradebook(template.db_url) as source,
        ):
            warnings.simplefilter("ignore")  # SQLAlchemy's warnings about nbgrader's session use: noise
            for stage in stages:
                try:
                    course.find_assignment(stage)
                    continue
                except MissingEntry:
                    pass
                course.update_or_create_assignment(stage)
                for notebook in source.find_assignment(stage).notebooks:
                    course.update_or_create_notebook(notebook.name, stage)
                    for cell in notebook.grade_cells:
                        course.update_or_create_grade_cell(
                            cell.name, notebook.name, stage, max_score=cell.max_score, cell_type=cell.cell_type
                        )
                    for cell in notebook.solution_cells:
                        course.update_or_create_solution_cell(cell.name, notebook.name, stage)
                    for cell in notebook.task_cells:
                        course.update_or_create_task_cell(
                            cell.name, notebook.name, stage, max_score=cell.max_score, cell_type=cell.cell_type
                        )
                    for cell in notebook.source_cells:
                        course.update_or_create_source_cell(
                            cell.name,
                            notebook.name,
                            stage,
                            cell_type=cell.cell_type,
                            locked=cell.locked,
                            source=cell.source,
                            checksum=cell.checksum,
                        )

    def record(
        self, student: str, result: GradeResult, timestamp: str, secret: str, notebook: bytes | None, page: str
    ) -> None:
        """The latest graded submission of `student` for result.stage: files, then the gradebook."""
        from nbgrader.api import Gradebook
        from nbgrader.utils import parse_utc

        stage = result.stage
        submitted = self.root / "submitted" / student / stage
        if notebook is not None:
            write_durably(submitted / f"{stage}.ipynb", notebook)
        write_durably(submitted / TIMESTAMP_FILE, timestamp.encode())
        if result.autograded_notebook is not None:
            write_durably(self.workspace.autograded_notebook(student, stage), result.autograded_notebook)
        feedback = self.workspace.feedback_page(student, stage)
        write_durably(feedback, page.encode("utf-8"))
        write_durably(feedback.parent / TIMESTAMP_FILE, timestamp.encode())
        write_durably(feedback.parent / SECRET_FILE, secret.encode(), mode=0o600)
        if not result.cells:
            return  # nothing ran (unreadable, missing, a grader error): no scores to record
        with warnings.catch_warnings(), Gradebook(self.workspace.db_url, self.course_id) as gradebook:
            warnings.simplefilter("ignore")
            record_result(gradebook, student, result, timestamp=parse_utc(timestamp))
            gradebook.db.commit()

    def write_tables(self, latest: dict[tuple[str, str], GradeResult], inventory: list[tuple[str, str, str]]) -> None:
        """grades.csv and tests.csv of the latest graded submissions; collected.csv of every submission."""
        rows = [ClassResult(student, result) for (student, _), result in latest.items()]
        write_tables(self.root, rows, {}, inventory)
