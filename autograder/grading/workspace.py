"""A throw-away nbgrader course folder for autograding: source/, submitted/, autograded/, a gradebook.

Layout (nbgrader's own): WORKSPACE/nbgrader_config.py, source/<stage>/, release/<stage>/,
submitted/<student>/<stage>/, autograded/<student>/<stage>/, feedback/<student>/<stage>/ and gradebook.db.
Its settings are the course's (autograder/nbgrader_config.py) with the root moved here, as a traitlets Config
(autograder/grading/config.py); a workspace that plain `nbgrader` commands must find gets the same as a file.

`create(stages)` generates every stage in one nbgrader process (`python -m autograder.grading.workspace ROOT STAGE...`).
The grader builds one such template per run and gives each notebook a fresh workspace that shares only a
copy of the template's gradebook (`from_template`), never the sources with the hidden tests.
"""

import logging
import shutil
import subprocess
import sys
from pathlib import Path

from autograder.course import CONFIG, ROOT, SOLUTIONS
from autograder.nbgrader_cli import NbgraderError, nbgrader_env

log = logging.getLogger(__name__)


class Workspace:
    def __init__(self, folder: Path):
        self.root = Path(folder).resolve()

    @property
    def db_url(self) -> str:
        return f"sqlite:///{self.root / 'gradebook.db'}"

    @property
    def config_file(self) -> Path:
        return self.root / "nbgrader_config.py"

    def write_config(self) -> None:
        """An nbgrader_config.py, so that plain `nbgrader` commands work in this folder."""
        self.root.mkdir(parents=True, exist_ok=True)
        self.config_file.write_text(
            f"load_subconfig({str(CONFIG)!r})\n"
            f"c.CourseDirectory.root = {str(self.root)!r}\n"
            "c.CourseDirectory.source_directory = 'source'\n"
            "c.CourseDirectory.release_directory = 'release'\n",
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
            raise NbgraderError(
                f"generating the assignments {', '.join(stages)} failed:\n{result.stdout}{result.stderr}"
            )
        return self

    @classmethod
    def from_template(cls, template: "Workspace", folder: Path) -> "Workspace":
        """A fresh workspace holding only a copy of the template's gradebook (assignments, cells, tests)."""
        workspace = cls(folder)
        workspace.root.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(template.root / "gradebook.db", workspace.root / "gradebook.db")
        return workspace

    def api(self, config=None):
        """nbgrader's Python API on this workspace, in this process. config: a traitlets Config merged
        over the course's settings (autograder/grading/config.py)."""
        from nbgrader.apps import NbGraderAPI
        from nbgrader.coursedir import CourseDirectory

        from autograder.grading.config import course_config

        merged = course_config(self.root)
        if config is not None:
            merged.merge(config)
        return NbGraderAPI(coursedir=CourseDirectory(config=merged), config=merged)

    def submitted_notebook(self, student: str, stage: str) -> Path:
        return self.root / "submitted" / student / stage / f"{stage}.ipynb"

    def autograded_notebook(self, student: str, stage: str) -> Path:
        return self.root / "autograded" / student / stage / f"{stage}.ipynb"

    def feedback_page(self, student: str, stage: str) -> Path:
        return self.root / "feedback" / student / stage / f"{stage}.html"


def _generate(root: Path, stages: list[str]) -> int:
    """`python -m autograder.grading.workspace ROOT STAGE...`: nbgrader generate_assignment for each stage."""
    api = Workspace(root).api()
    for stage in stages:
        result = api.generate_assignment(stage, force=True)
        if not result["success"]:
            log.error("generate_assignment %s failed:\n%s\n%s", stage, result.get("log", ""), result.get("error", ""))
            return 1
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    sys.exit(_generate(Path(sys.argv[1]), sys.argv[2:]))
