"""A class around a temporary nbgrader exchange, for the grading service's tests and benchmark.

`Exchange(root)` makes EXCHANGE/COURSE_ID with inbound/ (mode 733, as nbgrader's release makes it) and the
stages released to outbound/. A `Student` has a home folder with their nbgrader_config.py (this course id,
this exchange, a cache of their own) and submits and fetches feedback in either of two ways, both nbgrader's
own code:
  - `run(...)`: the real `nbgrader` command in the student's folder (the end-to-end test);
  - `submit_now(...)`: nbgrader's ExchangeSubmit in this process (what `nbgrader submit` runs, without the
    seconds of starting the command: bursts of submissions within a fraction of a second).
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat

from autograder.course import NOTEBOOKS
from autograder.nbgrader_cli import nbgrader_env

COURSE_ID = "qkv-attention"


class Exchange:
    def __init__(self, root: Path, stages: list[str], course_id: str = COURSE_ID):
        self.root, self.course_id = Path(root), course_id
        course = self.root / course_id
        (course / "inbound").mkdir(parents=True, exist_ok=True)
        os.chmod(course / "inbound", 0o733)
        for stage in stages:
            shutil.copytree(NOTEBOOKS / stage, course / "outbound" / stage, dirs_exist_ok=True)

    @property
    def inbound(self) -> Path:
        return self.root / self.course_id / "inbound"

    @property
    def feedback(self) -> Path:
        return self.root / self.course_id / "feedback"

    def student(self, name: str, home: Path) -> "Student":
        return Student(name, Path(home) / name, self)


class Student:
    def __init__(self, name: str, home: Path, exchange: Exchange):
        self.name, self.home, self.exchange = name, home, exchange
        self.cache = home / ".nbgrader_cache"
        home.mkdir(parents=True, exist_ok=True)
        (home / "nbgrader_config.py").write_text(
            "c = get_config()\n"
            f"c.CourseDirectory.course_id = {exchange.course_id!r}\n"
            f"c.Exchange.root = {str(exchange.root)!r}\n"
            f"c.Exchange.cache = {str(self.cache)!r}\n",
            encoding="utf-8",
        )

    def run(self, *args: str) -> str:
        """`nbgrader ARGS --student NAME` in the student's home folder; returns its output."""
        command = [sys.executable, "-m", "nbgrader", *args, "--student", self.name]
        done = subprocess.run(command, cwd=self.home, env=nbgrader_env(), capture_output=True, text=True, timeout=300)
        if done.returncode != 0:
            raise RuntimeError(f"nbgrader {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
        return done.stdout + done.stderr

    def write(self, stage: str, notebook) -> Path:
        """Put `notebook` (a NotebookNode or bytes) in the student's assignment folder as STAGE/STAGE.ipynb."""
        path = self.home / stage / f"{stage}.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(notebook, bytes):
            path.write_bytes(notebook)
        else:
            nbformat.write(notebook, path)
        return path

    def submit_now(self, stage: str, notebook=None) -> str:
        """nbgrader's ExchangeSubmit in this process; returns the submission's inbound folder name."""
        from nbgrader.auth import Authenticator
        from nbgrader.coursedir import CourseDirectory
        from nbgrader.exchange.default import ExchangeSubmit
        from traitlets.config import Config

        if notebook is not None:
            self.write(stage, notebook)
        config = Config()
        config.CourseDirectory.course_id = self.exchange.course_id
        config.CourseDirectory.assignment_id = stage
        config.CourseDirectory.student_id = self.name
        config.Exchange.root = str(self.exchange.root)
        config.Exchange.cache = str(self.cache)
        config.Exchange.assignment_dir = str(self.home)
        submit = ExchangeSubmit(
            coursedir=CourseDirectory(config=config), authenticator=Authenticator(config=config), config=config
        )
        submit.start()
        return submit.assignment_filename

    def feedback_files(self, stage: str) -> dict[str, Path]:
        """What fetch_feedback put in the student's folder: {timestamp: STAGE.html}."""
        folder = self.home / stage / "feedback"
        return {p.parent.name: p for p in sorted(folder.glob(f"*/{stage}.html"))}

    def published_page(self, submission_id: str, notebook_id: str) -> Path:
        """Where the service publishes the page of one notebook of a submission (fetch_feedback's hash)."""
        from autograder.service.exchange import feedback_file, read_secret

        secret = read_secret(self.exchange.inbound / submission_id)
        return feedback_file(self.exchange.feedback, secret, notebook_id)
