"""A throw-away nbgrader course folder for autograding: source/, submitted/, autograded/, a gradebook.

Layout (nbgrader's own): WORKSPACE/nbgrader_config.py, source/<stage>/, submitted/<student>/<stage>/,
autograded/<student>/<stage>/, feedback/<student>/<stage>/ and gradebook.db. The configuration loads the
course's autograder/nbgrader_config.py and only moves the root, so grading uses the course's settings.
"""
import shutil
from dataclasses import dataclass
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry

from autograder.course import CONFIG, SOLUTIONS
from autograder.nbgrader_cli import run_nbgrader


@dataclass(frozen=True)
class NotebookScore:
    """The autograded result of one student's notebook."""
    student: str
    notebook: str
    score: float          # points from the autograded tests
    max_score: float      # points the autograded tests can give
    manual_max: float     # points that a person grades (written answers)
    failed_tests: tuple   # grade_ids of autograded tests that lost points


class Workspace:
    def __init__(self, folder: Path):
        self.root = Path(folder).resolve()

    @property
    def db_url(self) -> str:
        return f"sqlite:///{self.root / 'gradebook.db'}"

    def create(self, stages: list[str]) -> "Workspace":
        """Write the configuration, copy the stages' sources, and record them in the gradebook."""
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "nbgrader_config.py").write_text(
            f"load_subconfig({str(CONFIG)!r})\n"
            f"c.CourseDirectory.root = {str(self.root)!r}\n"
            "c.CourseDirectory.source_directory = 'source'\n"
            "c.CourseDirectory.release_directory = 'release'\n",
            encoding="utf-8",
        )
        for stage in stages:
            shutil.copytree(SOLUTIONS / stage, self.root / "source" / stage, dirs_exist_ok=True)
            self.nbgrader("generate_assignment", stage, "--force")
        return self

    def nbgrader(self, *args: str, timeout: float | None = None) -> str:
        return run_nbgrader(*args, "--log-level=WARN", cwd=self.root, timeout=timeout)

    def submit(self, student: str, stage: str, notebook: Path) -> Path:
        """Place a student's notebook where nbgrader expects the submission."""
        target = self.root / "submitted" / student / stage / f"{stage}.ipynb"
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
        results = []
        with Gradebook(self.db_url) as gradebook:
            assignment = gradebook.find_assignment(stage)
            for notebook in assignment.notebooks:
                for submission in notebook.submissions:
                    score = max_score = manual_max = 0.0
                    failed = []
                    for grade in submission.grades:
                        cell = grade.cell
                        if grade.auto_score is not None and not _is_manual(gradebook, cell):
                            score += grade.auto_score
                            max_score += grade.max_score
                            if grade.auto_score < grade.max_score:
                                failed.append(cell.name)
                        else:
                            manual_max += grade.max_score
                    results.append(NotebookScore(submission.student.id, notebook.name, score, max_score,
                                                 manual_max, tuple(sorted(failed))))
        return results


def _is_manual(gradebook: Gradebook, cell) -> bool:
    """Written answers (markdown solution cells) are graded by a person."""
    try:
        gradebook.find_solution_cell(cell.name, cell.notebook.name, cell.notebook.assignment.name)
        return True
    except MissingEntry:
        return False
