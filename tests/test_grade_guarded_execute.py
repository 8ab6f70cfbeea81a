"""GuardedExecute, the grader's execute preprocessor, on small notebooks (a real kernel each)."""

import nbformat
import pytest

from autograder.grading.guarded_execute import GuardedExecute

pytestmark = pytest.mark.slow


def run(tmp_path, sources, **settings):
    (tmp_path / "01_data.ipynb").write_text("nbgrader's sanitised copy, with the hidden tests")
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    executor = GuardedExecute(kernel_name="python3", **settings)
    executor.preprocess(notebook, {"metadata": {"path": str(tmp_path)}})
    return notebook.cells


def events(cells):
    return [c.metadata.get("autograder", {}).get("event") for c in cells]


def test_the_notebook_clock_stops_a_slow_notebook_and_later_cells_do_not_run(tmp_path):
    cells = run(
        tmp_path,
        ["import os, time\nprint(sorted(os.listdir('.')))", "time.sleep(2)", "time.sleep(30)", "print('never')"],
        timeout=60,
        notebook_timeout=8,
    )
    assert events(cells) == [None, None, "timeout", "not_run"]
    assert "01_data.ipynb" not in cells[0].outputs[0].text  # the copy with hidden tests is gone
    assert "the notebook's limit of 8 s" in cells[2].outputs[-1].evalue
    assert cells[3].outputs[0].ename == "NotRun"  # an error: a test here gets 0 points


def test_output_is_capped_while_it_arrives(tmp_path):
    cells = run(
        tmp_path,
        ["for i in range(5000):\n    print('spam' * 10)", "print('after')"],
        timeout=60,
        max_cell_output=10_000,
    )
    text = "".join(o.get("text", "") for o in cells[0].outputs)
    assert len(text) < 12_000 and "output truncated by the grader" in text
    assert events(cells)[0] == "output_truncated" and cells[1].outputs[0].text == "after\n"


def test_a_dead_kernel_is_reported_with_its_signal(tmp_path):
    cells = run(tmp_path, ["import faulthandler\nfaulthandler._sigsegv()", "print('never')"], timeout=60)
    assert events(cells) == ["kernel_died", "not_run"]
    assert "SIGSEGV" in cells[0].metadata["autograder"]["detail"]
