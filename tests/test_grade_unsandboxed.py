"""The grader with --no-sandbox: what stands in for the sandbox still holds (limits, process clean-up,
the audit hook), and a student who kills the grading process costs only their own row."""

import csv
import html
import io
import re

import crafted
import psutil
import pytest

from autograder.grading.batch import grade_class
from autograder.isolation.limits import Limits

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("unsandboxed")
    students = crafted.unsandboxed_class()
    students["lists_own_folder"] = crafted.with_cell(crafted.correct(), crafted.LIST_OWN_FOLDER)
    submissions = crafted.write_class(root / "class", students)
    terminal = io.StringIO()
    results = grade_class(
        submissions,
        root / "out",
        jobs=2,
        limits=Limits(cell_timeout=30, notebook_timeout=90, memory=2048),
        sandbox=False,
        stream=terminal,
    )
    return {"results": {r.student_id: r for r in results}, "out": root / "out", "terminal": terminal.getvalue()}


def test_the_missing_sandbox_is_said_on_the_terminal_and_in_the_summary(run):
    assert run["terminal"].startswith("Sandbox: OFF (--no-sandbox)")
    summary = (run["out"] / "summary.txt").read_text(encoding="utf-8")
    assert "Sandbox: OFF (--no-sandbox)" in summary
    assert "Warm start: workers forked warm; kernels fresh (warm kernels need the sandbox)" in summary
    assert "could not be contained" in summary and "listed as notes" in summary


def test_a_memory_bomb_hits_the_memory_limit_and_grading_goes_on(run):
    """The bomb gets a MemoryError at the limit; the tests after it still pass. (A later cell may then find
    no memory left and end the kernel: the points earned so far stay.)"""
    result = run["results"]["memory_bomb"]
    assert result.status in ("graded", "kernel_died") and result.score == 5, result.detail
    page = html.unescape((run["out"] / "feedback" / "memory_bomb" / "01_data.html").read_text(encoding="utf-8"))
    assert "MemoryError" in page


def test_reading_the_gradebook_is_caught_by_the_kernels_audit_hook(run):
    result = run["results"]["sneaky_read"]
    assert result.status == "flagged" and result.score == 0
    assert "opened gradebook.db outside its own folder" in result.detail
    assert "cell" not in result.detail.split("gradebook.db")[0][-60:]  # not the static scan: it cannot see it


def test_a_student_who_kills_the_grader_gets_an_error_row_and_the_others_are_graded(run):
    result = run["results"]["kills_grader"]
    assert result.status == "error" and "exit code" in result.detail
    assert (run["out"] / "logs" / "kills_grader" / "01_data.log").exists()
    assert (run["results"]["correct"].status, run["results"]["correct"].score) == ("graded", 5)
    with (run["out"] / "grades.csv").open(encoding="utf-8") as handle:
        assert sorted(r["student_id"] for r in csv.DictReader(handle)) == sorted(run["results"])


def test_leftover_processes_are_killed_without_the_sandbox(run):
    result = run["results"]["leftover_child"]
    assert (result.status, result.score) == ("graded", 5) and "note: cell 11 uses os.setsid" in result.detail
    lingering = [
        p
        for p in psutil.process_iter(["cmdline"])
        if p.info["cmdline"] and p.info["cmdline"][:2] == ["sleep", str(crafted.SLEEPER_SECONDS)]
    ]
    assert lingering == []


def test_the_kernel_folder_holds_no_copy_with_hidden_tests(run):
    page = html.unescape((run["out"] / "feedback" / "lists_own_folder" / "01_data.html").read_text(encoding="utf-8"))
    listing = re.search(r"FOLDER: (\[.*?\])", page)
    assert listing and "01_data.ipynb" not in listing.group(1)
