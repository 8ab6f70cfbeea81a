import nbformat
import pytest

from autograder.course import STAGES, solution_notebook, student_notebook
from tests.plain_nbgrader import PlainCourse


@pytest.fixture(scope="session")
def graded_course(tmp_path_factory):
    """A real nbgrader course where 'solution' submitted the instructor notebooks and 'blank' the
    untouched student notebooks, autograded by nbgrader. Returns (workspace, {stage: [NotebookScore]})."""
    workspace = PlainCourse(tmp_path_factory.mktemp("course")).create(STAGES)
    for stage in STAGES:
        workspace.submit("solution", stage, solution_notebook(stage))
        workspace.submit("blank", stage, student_notebook(stage))
        workspace.autograde(stage)
    return workspace, {stage: workspace.scores(stage) for stage in STAGES}


def read(path):
    return nbformat.read(path, as_version=4)


def nbgrader_meta(cell):
    return cell.get("metadata", {}).get("nbgrader", {})
