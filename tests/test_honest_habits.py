"""The catalog of honest habits (tests/honest_habits.py), graded by the real grader in the sandbox, in one
class run: every student hands in a correct 01_data plus one habit, and every one gets full marks and the
status `graded`. What the static scan or the kernel's checks noticed is listed as a note, never a lost point.
"""

import csv
import html
import io

import crafted
import pytest
from honest_habits import HABITS, honest_class

from autograder.grading.batch import grade_class
from autograder.isolation import sandbox
from autograder.isolation.limits import Limits

pytestmark = pytest.mark.slow

# Habits whose notes must be there: the instructor sees what the scan found, in every output.
NOTED = {
    "shell_lines": "runs the IPython command `!ls -la`",
    "os_module": "uses os.listdir",
    "pickle_round_trip": "imports pickle",
    "cell_timer_callback": "switched off while the tests ran",
    "shell_cell_magics": "started the program",
}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    if not sandbox.probe()[0]:
        pytest.skip("the honest habits are graded as an instructor grades: in the sandbox")
    root = tmp_path_factory.mktemp("honest")
    submissions = crafted.write_class(root / "class", honest_class())
    terminal = io.StringIO()
    results = grade_class(
        submissions, root / "out", jobs=2, limits=Limits(cell_timeout=60, notebook_timeout=300), stream=terminal
    )
    return {"results": {r.student_id: r for r in results}, "out": root / "out", "terminal": terminal.getvalue()}


def test_the_catalog_is_broad():
    assert len(HABITS) >= 40
    assert len({h.name for h in HABITS}) == len(HABITS), "habit names are student ids: they must be unique"


@pytest.mark.parametrize("name", [h.name for h in HABITS])
def test_an_honest_habit_gets_full_marks(run, name):
    result = run["results"][name]
    assert (result.status, result.score, result.max_score) == ("graded", 5, 5), result.detail
    assert "flagged" not in result.detail and "no feedback page" not in result.detail, result.detail
    assert all(t.result == "passed" for t in result.tests if t.kind != "written answer"), result.tests


def test_what_was_found_is_a_note_in_every_output(run):
    for name, words in NOTED.items():
        assert "note: " in run["results"][name].detail and words in run["results"][name].detail, name
    with (run["out"] / "tests.csv").open(encoding="utf-8") as handle:
        tests = list(csv.DictReader(handle))
    shell = [row for row in tests if row["student_id"] == "shell_lines" and row["kind"] != "written answer"]
    assert all(row["result"] == "passed" for row in shell)
    assert any("`!ls -la`" in row["note"] for row in shell)
    summary = (run["out"] / "summary.txt").read_text(encoding="utf-8")
    assert "Notes (no points taken" in summary and "  shell_lines 01_data: " in summary
    assert "Needs attention" not in summary and "could not be contained" not in summary


def test_printing_the_hidden_test_markers_still_gives_a_feedback_page(run):
    page = run["out"] / "feedback" / "prints_grader_words" / "01_data.html"
    text = html.unescape(page.read_text(encoding="utf-8"))
    assert "Your feedback page could not be made" not in text
    assert "BEGIN\u00a0HIDDEN\u00a0TESTS" in text and "my own gradebook: all good" in text
