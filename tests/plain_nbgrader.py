"""Plain nbgrader on a course folder, for the tests and the benchmark: submit notebooks, run
`nbgrader autograde`, read the scores. The grader itself never grades this way (autograder/grading/core.py)."""

import shutil
from dataclasses import dataclass
from pathlib import Path

from autograder.grading.workspace import Workspace
from autograder.nbgrader_cli import run_nbgrader


@dataclass(frozen=True)
class NotebookScore:
    """The autograded result of one student's notebook."""

    student: str
    notebook: str
    score: float  # points from the autograded tests
    max_score: float  # points the autograded tests can give
    manual_max: float  # points that a person grades (written answers)
    failed_tests: tuple  # grade_ids of autograded tests that lost points


class PlainCourse(Workspace):
    def nbgrader(self, *args: str, timeout: float | None = None) -> str:
        return run_nbgrader(*args, "--log-level=WARN", cwd=self.root, timeout=timeout)

    def submit(self, student: str, stage: str, notebook: Path) -> Path:
        """Place a student's notebook where nbgrader expects the submission."""
        target = self.submitted_notebook(student, stage)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(notebook, target)
        return target

    def autograde(self, stage: str, student: str | None = None) -> str:
        args = ["autograde", stage, "--force"]
        if student:
            args.append(f"--student={student}")
        return self.nbgrader(*args)

    def scores(self, stage: str) -> list[NotebookScore]:
        """Autograded scores of every submission of `stage` found in the gradebook."""
        from nbgrader.api import Gradebook

        results = []
        with Gradebook(self.db_url) as gradebook:
            assignment = gradebook.find_assignment(stage)
            # written answers (graded solution cells) are graded by a person
            written = {cell.name for notebook in assignment.notebooks for cell in notebook.solution_cells}
            for notebook in assignment.notebooks:
                for submission in notebook.submissions:
                    score = max_score = manual_max = 0.0
                    failed = []
                    for grade in submission.grades:
                        if grade.auto_score is not None and grade.cell.name not in written:
                            score += grade.auto_score
                            max_score += grade.max_score
                            if grade.auto_score < grade.max_score:
                                failed.append(grade.cell.name)
                        else:
                            manual_max += grade.max_score
                    results.append(
                        NotebookScore(
                            submission.student.id, notebook.name, score, max_score, manual_max, tuple(sorted(failed))
                        )
                    )
        return results
