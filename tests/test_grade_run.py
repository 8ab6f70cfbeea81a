"""The real grader on a class of correct, broken and hostile submissions (one grading run for all of them).

Each student hands in 01_data (see tests/crafted.py). The run uses the sandbox when the machine has one,
like an instructor's default run, with short time limits so that the infinite loops end quickly.
"""

import csv
import hashlib
import html
import io
import re

import crafted
import nbformat
import psutil
import pytest

from autograder.course import solution_notebook, student_notebook
from autograder.grading.batch import grade_class
from autograder.isolation.limits import Limits

pytestmark = pytest.mark.slow
LIMITS = Limits(cell_timeout=10, notebook_timeout=90)

# student: (status, score out of 5, words the detail must contain)
EXPECTED = {
    "correct": ("graded", 5, ""),
    "syntax_error": ("graded", 0, ""),
    "exception": ("graded", 0, ""),
    "nothing": ("missing", 0, ""),
    "pdf_only": ("missing", 0, "other files ignored: report.pdf"),
    "extras": ("graded", 5, "other files ignored: data.csv, notes.txt"),
    "corrupt": ("unreadable", 0, "invalid JSON"),
    "binary": ("unreadable", 0, "not text"),
    "empty": ("unreadable", 0, "empty"),
    "not_a_notebook": ("unreadable", 0, "no cells"),
    "old_format_r_kernel": ("graded", 5, "converted from notebook format 3; kernel 'ir' replaced by python3"),
    "deleted_tests": ("graded", 5, "put back: setup, test_make_batch, test_make_batch_hidden"),
    "edited_tests": ("graded", 0, "my_own_test"),
    "infinite_loop": ("timeout", 0, "ran longer than the limit of 10 s per cell"),
    "loop_ignoring_interrupt": ("timeout", 0, "ran longer than the limit of 10 s per cell"),
    "sys_exit": ("graded", 5, ""),
    "os_exit": ("kernel_died", 0, "the kernel died in cell"),
    "segfault": ("kernel_died", 0, "SIGSEGV"),
    "output_flood_big_file": ("graded", 5, "truncated"),
    "leftover_child": ("graded", 5, "note: cell 11 uses os.setsid"),  # its child is killed: no trace
    "ast_transformer": ("flagged", 0, "IPython AST transformers changed"),
    "input_transformer": ("flagged", 0, "check cell did not report"),
    "wrapped_run_cell": ("flagged", 0, "run_cell_async changed"),
    "always_equal": ("flagged", 0, "compare equal to anything"),
    "patched_comparisons": ("flagged", 0, "torch.equal was replaced"),
    "sneaky_patch": ("flagged", 0, "torch.allclose was replaced"),
    "callback_patch": ("graded", 0, "switched off while the tests ran"),
    "lists_own_folder": ("graded", 5, "note: cell 11 uses os.listdir"),  # its own folder: honest
}


def tree_hash(folder):
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        digest.update(str(path.relative_to(folder)).encode())
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    students = crafted.hostile_class()
    students["lists_own_folder"] = crafted.with_cell(crafted.correct(), crafted.LIST_OWN_FOLDER)
    submissions = crafted.write_class(root / "class", students)
    before = tree_hash(submissions)
    terminal = io.StringIO()
    out = root / "out"
    results = grade_class(submissions, out, jobs=2, limits=LIMITS, stream=terminal)
    return {
        "results": {r.student_id: r for r in results},
        "out": out,
        "terminal": terminal.getvalue(),
        "before": before,
        "after": tree_hash(submissions),
        "submissions": submissions,
    }


def rows(path):
    with path.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_every_student_found_has_a_row(run):
    grades = rows(run["out"] / "grades.csv")
    assert sorted(r["student_id"] for r in grades) == sorted(EXPECTED)
    assert all(r["notebook"] == "01_data" and r["max_score"] == "5" for r in grades)


@pytest.mark.parametrize("student", sorted(EXPECTED))
def test_status_score_and_reason(run, student):
    status, score, words = EXPECTED[student]
    result = run["results"][student]
    assert (result.status, result.score) == (status, score), result.detail
    assert words in result.detail


def test_the_input_is_not_modified(run):
    assert run["after"] == run["before"]


def test_no_process_of_a_student_survives(run):
    lingering = [
        p
        for p in psutil.process_iter(["cmdline"])
        if p.info["cmdline"] and p.info["cmdline"][:2] == ["sleep", str(crafted.SLEEPER_SECONDS)]
    ]
    assert lingering == []


def test_tampering_takes_the_credit_of_the_tests_it_defeated(run):
    tests = {(r["student_id"], r["test"]): r for r in rows(run["out"] / "tests.csv")}
    # asserts stripped: the wrong answer "passed" every test, and gets nothing for it
    for name in ("test_make_batch", "test_make_batch_hidden"):
        assert tests[("ast_transformer", name)]["result"] == "no credit (tampering)"
        assert tests[("ast_transformer", name)]["points"] == "0"
    assert tests[("correct", "test_make_batch_hidden")]["result"] == "passed"
    assert tests[("infinite_loop", "test_make_batch")]["result"] == "not run"


def hidden_lines():
    """Code lines of the hidden tests of 01_data that the handed-out notebook does not show."""
    public = {
        line.strip()
        for c in nbformat.read(student_notebook("01_data"), as_version=4).cells
        for line in c.source.splitlines()
    }
    lines = set()
    for cell in nbformat.read(solution_notebook("01_data"), as_version=4).cells:
        match = re.search(r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS", cell.source, re.S)
        if match:
            lines |= {
                line.strip()
                for line in match.group(1).splitlines()
                if len(line.strip()) > 12 and not line.strip().startswith("#")
            }
    return lines - public


def test_feedback_for_everyone_and_never_the_hidden_tests(run):
    secret = hidden_lines()
    assert len(secret) > 5
    for student in EXPECTED:
        page = run["out"] / "feedback" / student / "01_data.html"
        text = html.unescape(page.read_text(encoding="utf-8"))
        leaked = [line for line in secret if line in text]
        assert not leaked, f"{student}'s feedback shows hidden test code: {leaked[:3]}"
        assert "__autograder_check__" not in text and "AutograderVerdict" not in text
    wrong = html.unescape((run["out"] / "feedback" / "exception" / "01_data.html").read_text(encoding="utf-8"))
    assert "RuntimeError: not finished" in wrong  # the student still learns what went wrong
    flagged = html.unescape((run["out"] / "feedback" / "patched_comparisons" / "01_data.html").read_text())
    assert "Flagged for review" in flagged and "torch.equal was replaced" in flagged


def test_a_huge_file_hits_the_file_size_limit(run):
    page = html.unescape((run["out"] / "feedback" / "output_flood_big_file" / "01_data.html").read_text())
    assert "File too large" in page and "output truncated by the grader" in page


def test_the_kernel_never_sees_the_notebook_with_the_hidden_tests(run):
    page = html.unescape((run["out"] / "feedback" / "lists_own_folder" / "01_data.html").read_text(encoding="utf-8"))
    listing = re.search(r"FOLDER: (\[.*?\])", page)
    assert listing and "01_data.ipynb" not in listing.group(1)


def test_the_terminal_shows_progress_table_and_sandbox_state(run):
    text = run["terminal"]
    assert text.splitlines()[0].startswith("Sandbox: ")
    if text.startswith("Sandbox: on"):  # these hostile notebooks ran in kernels forked warm into the sandbox
        assert "Warm start: workers forked warm; kernels forked warm." in text
    assert f"[{len(EXPECTED)}/{len(EXPECTED)}]" in text
    assert "Needs attention" in text and "infinite_loop 01_data: timeout" in text
    assert (run["out"] / "summary.txt").read_text(encoding="utf-8") in text
