"""A throw-away nbgrader course folder for autograding: source/, submitted/, autograded/, a gradebook.

Layout (nbgrader's own): WORKSPACE/nbgrader_config.py, source/<stage>/, release/<stage>/,
submitted/<student>/<stage>/, autograded/<student>/<stage>/, feedback/<student>/<stage>/ and gradebook.db.
The configuration loads the course's autograder/nbgrader_config.py and only moves the root, so grading uses
the course's settings; `extra_config` adds lines (the grader's limits and preprocessors).

`create(stages)` generates every stage in one nbgrader process (`python -m autograder.grading.workspace ROOT STAGE...`).
The grader builds one such template per run and gives each notebook a fresh workspace that shares only a
copy of the template's gradebook (`from_template`), never the sources with the hidden tests.
"""
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from autograder.course import CONFIG, ROOT, SOLUTIONS
from autograder.nbgrader_cli import NbgraderError, nbgrader_env, run_nbgrader


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

    @property
    def config_file(self) -> Path:
        return self.root / "nbgrader_config.py"

    def write_config(self, extra_config: str = "") -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.config_file.write_text(
            f"load_subconfig({str(CONFIG)!r})\n"
            f"c.CourseDirectory.root = {str(self.root)!r}\n"
            "c.CourseDirectory.source_directory = 'source'\n"
            "c.CourseDirectory.release_directory = 'release'\n" + extra_config,
            encoding="utf-8",
        )

    def create(self, stages: list[str]) -> "Workspace":
        """Write the configuration, copy the stages' sources, and record them in the gradebook."""
        self.write_config()
        for stage in stages:
            shutil.copytree(SOLUTIONS / stage, self.root / "source" / stage, dirs_exist_ok=True)
        command = [sys.executable, "-m", "autograder.grading.workspace", str(self.root), *stages]
        result = subprocess.run(command, cwd=ROOT, env=nbgrader_env(), capture_output=True, text=True)
        if result.returncode != 0:
            raise NbgraderError(f"generating the assignments {', '.join(stages)} failed:\n"
                                f"{result.stdout}{result.stderr}")
        return self

    @classmethod
    def from_template(cls, template: "Workspace", folder: Path, extra_config: str = "") -> "Workspace":
        """A fresh workspace holding a copy of the template's gradebook (assignments, cells, tests)."""
        workspace = cls(folder)
        workspace.write_config(extra_config)
        shutil.copyfile(template.root / "gradebook.db", workspace.root / "gradebook.db")
        return workspace

    def api(self, extra_args: list[str] = ()):
        """nbgrader's Python API on this workspace, in this process (configuration file, then extra_args)."""
        from nbgrader.apps import NbGraderAPI
        from nbgrader.coursedir import CourseDirectory
        from traitlets.config.loader import KVArgParseConfigLoader, PyFileConfigLoader

        config = PyFileConfigLoader(self.config_file.name, path=str(self.root)).load_config()
        if extra_args:
            config.merge(KVArgParseConfigLoader(argv=list(extra_args)).load_config())
        return NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)

    def nbgrader(self, *args: str, timeout: float | None = None) -> str:
        return run_nbgrader(*args, "--log-level=WARN", cwd=self.root, timeout=timeout)

    def submit(self, student: str, stage: str, notebook: Path) -> Path:
        """Place a student's notebook where nbgrader expects the submission."""
        target = self.submitted_notebook(student, stage)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(notebook, target)
        return target

    def submitted_notebook(self, student: str, stage: str) -> Path:
        return self.root / "submitted" / student / stage / f"{stage}.ipynb"

    def autograded_notebook(self, student: str, stage: str) -> Path:
        return self.root / "autograded" / student / stage / f"{stage}.ipynb"

    def feedback_page(self, student: str, stage: str) -> Path:
        return self.root / "feedback" / student / stage / f"{stage}.html"

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


def _is_manual(gradebook, cell) -> bool:
    """Written answers (markdown solution cells) are graded by a person."""
    from nbgrader.api import MissingEntry

    try:
        gradebook.find_solution_cell(cell.name, cell.notebook.name, cell.notebook.assignment.name)
        return True
    except MissingEntry:
        return False


def _generate(root: Path, stages: list[str]) -> int:
    """`python -m autograder.grading.workspace ROOT STAGE...`: nbgrader generate_assignment for each stage."""
    api = Workspace(root).api()
    for stage in stages:
        result = api.generate_assignment(stage, force=True)
        if not result["success"]:
            print(f"generate_assignment {stage} failed:\n{result.get('log', '')}\n{result.get('error', '')}",
                  file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(_generate(Path(sys.argv[1]), sys.argv[2:]))
