"""The grading core: the one public grade_notebook, its result, the grader's preprocessors, and the hooks of
other projects it relies on (autograder/grading/core.py, result.py, preprocessors.py, feedback.py, config.py)."""

import inspect
import json
import threading

import crafted
import nbformat
import pytest
from nbformat import v4

from autograder.course import solution_notebook
from autograder.grading import integrity
from autograder.grading.config import autograde_config
from autograder.grading.core import Grader, grade_notebook
from autograder.grading.feedback import TEMPLATE_CACHE, FeedbackExporter
from autograder.grading.preprocessors import KEY, InjectIntegrityChecks, RecordTampering, StudentFeedback
from autograder.grading.result import GradeResult, Status
from autograder.isolation.limits import KERNEL_ENV, Limits

STAGE = "01_data"
LIMITS = Limits(cell_timeout=20, notebook_timeout=120)


# -- preprocessors (no kernel) ----------------------------------------------------------------------------


def small_notebook():
    """An answer, a visible test and a hidden test, as nbgrader's source format marks them."""
    answer = v4.new_code_cell(
        "x = 1",
        metadata={
            "nbgrader": {"grade": False, "solution": True, "locked": False, "grade_id": "answer", "schema_version": 3}
        },
    )
    test = v4.new_code_cell(
        "assert x == 1",
        metadata={
            "nbgrader": {
                "grade": True,
                "solution": False,
                "locked": True,
                "grade_id": "test_x",
                "points": 1,
                "schema_version": 3,
            }
        },
    )
    hidden = v4.new_code_cell(
        "### BEGIN HIDDEN TESTS\nassert x > 0\n### END HIDDEN TESTS",
        metadata={
            "nbgrader": {
                "grade": True,
                "solution": False,
                "locked": True,
                "grade_id": "hidden_x",
                "points": 2,
                "schema_version": 3,
            }
        },
    )
    return v4.new_notebook(cells=[v4.new_markdown_cell("# Title"), answer, test, hidden])


def test_inject_integrity_checks_puts_a_check_around_every_test_and_leaves_the_input_alone():
    notebook = small_notebook()
    before = nbformat.writes(notebook)
    injected, _ = InjectIntegrityChecks(protected=["/course"]).preprocess(notebook, {})
    assert nbformat.writes(notebook) == before
    roles = [c.metadata.get(KEY, {}).get("role") for c in injected.cells]
    assert roles[0] == "check" and "'/course'" in injected.cells[0].source
    tests = [
        i for i, c in enumerate(injected.cells) if c.metadata.get("nbgrader", {}).get("grade_id", "").endswith("_x")
    ]
    for index in tests:
        assert roles[index - 1] == "check" and roles[index + 1] == "check", roles
    positions = [c.metadata[KEY]["position"] for c in injected.cells if roles[injected.cells.index(c)] != "check"]
    assert positions == [0, 1, 2, 3]


def executed(notebook, verdict: str):
    """The injected notebook as if every check cell had answered with `verdict` ('ok' or a tamper reason)."""
    for cell in notebook.cells:
        record = cell.metadata.get(KEY, {})
        if record.get("role") == "check":
            record["reply"] = {"status": "error", "ename": integrity.VERDICT, "evalue": f"{record['nonce']} {verdict}"}
    return notebook


def test_record_tampering_passes_an_honest_run_and_flags_a_check_that_did_not_report():
    injected, _ = InjectIntegrityChecks(protected=[]).preprocess(small_notebook(), {})
    _, resources = RecordTampering().preprocess(executed(injected, "ok"), {KEY: {"findings": []}})
    assert resources[KEY]["analysis"].status == Status.GRADED and resources[KEY]["tainted"] == set()

    injected, _ = InjectIntegrityChecks(protected=[]).preprocess(small_notebook(), {})
    honest = executed(injected, "ok")
    check_after_first_test = [i for i, c in enumerate(honest.cells) if c.metadata.get(KEY, {}).get("role") == "check"][
        2
    ]
    del honest.cells[check_after_first_test].metadata[KEY]["reply"]
    _, resources = RecordTampering().preprocess(honest, {KEY: {"findings": []}})
    assert resources[KEY]["analysis"].status == Status.FLAGGED
    assert "test_x" in resources[KEY]["tainted"]


def test_student_feedback_removes_the_graders_cells_and_hidden_test_details_and_adds_notes():
    injected, _ = InjectIntegrityChecks(protected=[]).preprocess(small_notebook(), {})
    notebook = executed(injected, "ok")
    hidden = next(c for c in notebook.cells if "HIDDEN" in c.source)
    hidden.outputs = [
        v4.new_output(
            "error", ename="AssertionError", evalue="x too small", traceback=["assert x > 0  # the hidden test's code"]
        )
    ]
    notebook, resources = RecordTampering().preprocess(notebook, {KEY: {"findings": [], "notes": ["a note"]}})
    page, _ = StudentFeedback().preprocess(notebook, resources)
    assert all(KEY not in c.metadata for c in page.cells)
    assert len(page.cells) == 5 and "a note" in page.cells[0].source  # notes first, then the 4 cells
    shown = next(c for c in page.cells if "HIDDEN" in c.source).outputs[0]
    assert "assert x > 0" not in "".join(shown.traceback) and shown.evalue == "x too small"


# -- hooks of other projects --------------------------------------------------------------------------------


def test_feedback_pages_use_the_shared_template_cache_through_nbgraders_public_hook():
    """GenerateFeedback.exporter_class (nbgrader) and TemplateExporter.environment (nbconvert) are public;
    if either changes upstream, this fails instead of grading silently without the cache."""
    from nbconvert.exporters.templateexporter import TemplateExporter
    from nbgrader.converters import GenerateFeedback

    assert isinstance(inspect.getattr_static(TemplateExporter, "environment"), property)
    converter = GenerateFeedback(config=autograde_config(Limits()))
    assert converter.exporter_class is FeedbackExporter
    assert FeedbackExporter(template_name="lab").environment.bytecode_cache is TEMPLATE_CACHE


def test_the_kernel_environment_is_written_into_both_kernelspecs(tmp_path):
    from autograder.isolation import sandbox, unsandboxed

    unsandboxed.kernel_setup(tmp_path / "plain", LIMITS)
    spec = json.loads(
        (tmp_path / "plain" / "jupyter" / "kernels" / unsandboxed.KERNEL_NAME / "kernel.json").read_text()
    )
    assert spec["env"] == KERNEL_ENV
    settings = sandbox._settings(tmp_path, LIMITS)  # what the sandbox launcher reads
    assert settings["env"] == KERNEL_ENV and settings["limits"]["cpu_seconds"] == LIMITS.cpu_time == 180


def test_limits_are_checked_and_round_trip():
    assert Limits.from_dict(LIMITS.to_dict()) == LIMITS
    assert Limits(cpu_seconds=5).cpu_time == 5 and Limits(notebook_timeout=100).cpu_time == 160
    with pytest.raises(ValueError, match="cpu_seconds"):
        Limits(cpu_seconds=0)


# -- grade_notebook ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def grader():
    with Grader([STAGE]) as started:
        yield started


def test_a_notebook_given_as_bytes_is_graded_with_everything_in_the_result(grader):
    result = grade_notebook(solution_notebook(STAGE).read_bytes(), STAGE, LIMITS, grader=grader)
    assert (result.status, result.score, result.max_score) == (Status.GRADED, 5.0, 5.0), result.detail
    assert {t.result for t in result.tests if t.kind != "written answer"} == {"passed"}
    assert "<html" in result.feedback_html and "BEGIN HIDDEN TESTS" not in result.feedback_html
    autograded = nbformat.reads(result.autograded_notebook.decode(), as_version=4)
    assert all(KEY not in c.metadata for c in autograded.cells)
    assert result.cells and result.timings["feedback"] > result.timings["autograde"] > 0
    again = GradeResult.from_dict(json.loads(json.dumps(result.to_dict())))
    assert again == result


def test_a_path_from_another_folder_gives_the_same_result_and_leaves_nothing_behind(grader, tmp_path, monkeypatch):
    path = tmp_path / "handed-in.ipynb"
    path.write_bytes(nbformat.writes(crafted.wrong()).encode())
    work = tmp_path / "elsewhere"
    work.mkdir()
    monkeypatch.chdir(work)
    result = grade_notebook(path, STAGE, LIMITS, grader=grader, notes=("found by its name",))
    assert result.status == Status.GRADED and result.score < 5 and "found by its name" in result.notes
    assert list(work.iterdir()) == [] and list((grader.folder / "jobs").iterdir()) == []


def test_missing_unreadable_and_unknown_stage(grader):
    missing = grade_notebook(None, STAGE, grader=grader)
    assert (missing.status, missing.score, missing.max_score) == (Status.MISSING, 0.0, 5.0)
    assert "No notebook" in missing.feedback_html
    broken = grade_notebook(b"{not a notebook", STAGE, LIMITS, grader=grader)
    assert broken.status == Status.UNREADABLE and "not a notebook" in broken.detail
    with pytest.raises(ValueError, match="05_module"):
        grade_notebook(b"", "05_module", grader=grader)


def test_two_calls_at_once_share_nothing_a_student_can_reach(grader):
    """One notebook leaves a file in its folder, /tmp and HOME and an environment variable; the other, graded
    at the same time by the same process, finds none of them."""
    leave = (
        "import os\nfor folder in ('.', '/tmp', os.path.expanduser('~')):\n"
        "    open(os.path.join(folder, 'left-behind.txt'), 'w').write('x')\nos.environ['LEFT_BEHIND'] = '1'\n"
        "print('WROTE', sorted(os.listdir('.')))\nimport time; time.sleep(3)"
    )
    look = (
        "import os, time\ntime.sleep(1.5)\n"
        "print('FOUND', [f for f in ('.', '/tmp', os.path.expanduser('~')) "
        "if os.path.exists(os.path.join(f, 'left-behind.txt'))], 'LEFT_BEHIND' in os.environ)"
    )
    notebooks = {
        "leave": crafted.with_cell(crafted.correct(), leave),
        "look": crafted.with_cell(crafted.correct(), look),
    }
    results = {}

    def grade(name):
        results[name] = grade_notebook(nbformat.writes(notebooks[name]).encode(), STAGE, LIMITS, grader=grader)

    threads = [threading.Thread(target=grade, args=(name,)) for name in notebooks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    printed = {}
    for name, result in results.items():
        graded = nbformat.reads(result.autograded_notebook.decode(), as_version=4)
        printed[name] = "".join(o.get("text", "") for c in graded.cells if c.cell_type == "code" for o in c.outputs)
    assert "WROTE" in printed["leave"] and "left-behind.txt" in printed["leave"], printed["leave"]
    assert "FOUND [] False" in printed["look"], printed["look"]


def test_a_cell_over_its_time_limit_is_a_timeout(grader):
    looping = nbformat.writes(crafted.with_cell(crafted.correct(), crafted.LOOP)).encode()
    result = grade_notebook(looping, STAGE, Limits(cell_timeout=3, notebook_timeout=60), grader=grader)
    assert result.status == Status.TIMEOUT and "longer than" in result.detail
