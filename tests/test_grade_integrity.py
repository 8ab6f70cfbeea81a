"""The parts of grading that need no kernel: reading and normalising submissions, the static tamper scan,
reading the kernel's verdicts, the limits and the sandbox message."""

import json

import crafted
import nbformat
import pytest

from autograder.course import ROOT, STAGES, solution_notebook, student_notebook
from autograder.grading import core, integrity
from autograder.grading.integrity import scan_cell, scan_notebook
from autograder.grading.submission import UnreadableNotebook, normalise, read_submission
from autograder.isolation.limits import Limits

SETUP_IMPORTS = integrity.import_names(
    [
        "import math\nimport warnings\nimport matplotlib.pyplot as plt\n"
        "import numpy as np\nimport torch\nimport torch.nn.functional as F"
    ]
)


def release(stage="01_data"):
    return nbformat.read(student_notebook(stage), as_version=4)


def write(tmp_path, data: bytes, name="01_data.ipynb"):
    path = tmp_path / name
    path.write_bytes(data)
    return path


# -- reading ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "empty"),
        (b"   \n", "empty"),
        (bytes(range(256)), "not text"),
        (b'{"cells": [', "invalid JSON"),
        (json.dumps({"hello": "world"}).encode(), "holds no cells"),
        (json.dumps([1, 2, 3]).encode(), "holds no cells"),
    ],
)
def test_what_is_not_a_notebook_is_unreadable(tmp_path, data, message):
    with pytest.raises(UnreadableNotebook, match=message):
        read_submission(write(tmp_path, data))


def test_old_format_and_another_kernel_are_read_with_a_note(tmp_path):
    notebook = crafted.with_kernel(crafted.correct(), "ir", "R")
    cells, notes = read_submission(write(tmp_path, crafted.as_v3(notebook)))
    assert notes == ["converted from notebook format 3", "kernel 'ir' replaced by python3"]
    sources = [c.source for c in cells.cells if c.cell_type == "code"]
    assert any("torch.randint(0, 10, (N, 10))" in s for s in sources)


def test_a_byte_order_mark_and_list_sources_are_fine(tmp_path):
    data = {
        "cells": [{"cell_type": "code", "source": ["x = 1\n", "y = 2"], "metadata": {}}],
        "nbformat": 4,
        "nbformat_minor": 2,
        "metadata": {},
    }
    notebook, notes = read_submission(write(tmp_path, b"\xef\xbb\xbf" + json.dumps(data).encode()))
    assert notebook.cells[0].source == "x = 1\ny = 2" and notes == []


# -- normalising -----------------------------------------------------------------------------------


def test_deleted_course_cells_come_back_in_place():
    submitted = crafted.without(crafted.correct(), "setup", "test_make_batch_hidden")
    result = normalise(submitted, release())
    ids = [c.metadata.get("nbgrader", {}).get("grade_id") for c in result.notebook.cells]
    expected = [c.metadata.get("nbgrader", {}).get("grade_id") for c in release().cells]
    assert [i for i in ids if i] == [i for i in expected if i]
    assert "deleted course cell(s) put back: setup, test_make_batch_hidden" in result.notes


def test_a_test_cannot_be_unlocked_renamed_or_duplicated():
    submitted = crafted.tests_edited_and_renamed()
    submitted.cells.append(
        nbformat.v4.new_code_cell(
            "pass", metadata={"nbgrader": dict(crafted.cell(crafted.correct(), "test_make_batch").metadata["nbgrader"])}
        )
    )
    result = normalise(submitted, release())
    visible = [c for c in result.notebook.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "test_make_batch"]
    assert len(visible) == 1 and visible[0].metadata["nbgrader"]["locked"] is True
    assert visible[0].metadata["nbgrader"]["points"] == 2
    renamed = [c for c in result.notebook.cells if "all good" in c.source]
    assert renamed and "nbgrader" not in renamed[0].metadata  # now just the student's own cell
    assert any(
        c.metadata.get("nbgrader", {}).get("grade_id") == "test_make_batch_hidden" for c in result.notebook.cells
    )
    student = result.student_cells()
    assert student[result.notebook.cells.index(renamed[0])] is True
    assert student[result.notebook.cells.index(visible[0])] is False


def test_the_release_kernel_replaces_the_students():
    result = normalise(crafted.with_kernel(crafted.correct(), "ir", "R"), release())
    assert result.notebook.metadata["kernelspec"]["name"] == "python3"


# -- static scan -----------------------------------------------------------------------------------


@pytest.mark.parametrize("stage", STAGES)
def test_correct_code_is_not_flagged(stage):
    """The instructor's answers, as a student would hand them in, raise no finding."""
    notebook = nbformat.read(solution_notebook(stage), as_version=4)
    normalised = normalise(notebook, release(stage))
    assert scan_notebook(normalised.notebook.cells, normalised.student_cells()) == []


def test_the_example_class_is_flagged_only_where_it_cheats():
    folder = ROOT / "examples" / "submissions"
    flagged = {}
    for path in sorted(folder.glob("*/*.ipynb")):
        try:
            notebook, _ = read_submission(path)
        except Exception:
            continue
        normalised = normalise(notebook, release(path.stem))
        findings = scan_notebook(normalised.notebook.cells, normalised.student_cells())
        if findings:
            flagged[f"{path.parent.name}/{path.stem}"] = [f.reason for f in findings]
    assert list(flagged) == ["eve/02_embedding"]
    assert "changes the library object `torch.allclose`" in flagged["eve/02_embedding"][0]


@pytest.mark.parametrize(
    "source, reason",
    [
        ("torch.allclose = lambda *a, **k: True", "changes the library object `torch.allclose`"),
        ("np.testing.assert_allclose = print", "changes the library object `np.testing.assert_allclose`"),
        ("del torch.equal", "changes the library object `torch.equal`"),
        ("setattr(torch, 'equal', max)", "uses `setattr`"),
        ("import builtins\nbuiltins.isinstance = lambda *a: True", "imports builtins"),
        ("class A:\n    def __eq__(self, other):\n        return True", "class A defines __eq__"),
        ("class T(torch.Tensor):\n    pass", "class T subclasses torch.Tensor"),
        ("type(x).__eq__ = lambda a, b: True", "sets `type(x).__eq__`"),
        ("get_ipython().ast_transformers.append(t)", "uses `.ast_transformers`"),
        ("print(_ih[-1])", "uses `_ih`"),
        ("print(In[-1])", "uses `In`"),
        ("!cat ../../gradebook.db", "runs the IPython command `!cat ../../gradebook.db`"),
        ("%run other.py", "runs the IPython command `run`"),
        ("text = open('../source/01_data.ipynb').read()", "opens files for reading"),
        ("import os\nos.listdir('..')", "uses os.listdir"),
        ("import subprocess", "imports subprocess"),
        ("import sys\nframe = sys._getframe(1)", "uses sys._getframe"),
        ("f.__code__ = g.__code__", "uses `.__code__`"),
        ("exec('x = 1')", "uses `exec`"),
        ("x.__class__ = Fake", "sets `x.__class__`"),
        ("import sys\nsys.stdout = open('/dev/null', 'w')", "changes the library object `sys.stdout`"),
        ("%%time\ntorch.equal = max", "changes the library object `torch.equal`"),
    ],
)
def test_tampering_code_is_found(source, reason):
    assert reason in scan_cell(source, SETUP_IMPORTS)


@pytest.mark.parametrize(
    "source",
    [
        "plt.rcParams['figure.figsize'] = (4, 3)",
        "%matplotlib inline",
        "%time losses = train(steps=10)",
        "with open('notes.txt', 'w') as handle:\n    handle.write('hi')",
        "import sys\nsys.exit()",
        "import os\nos._exit(1)",
        "self.query = torch.nn.Parameter(torch.randn(1, 5))",
        "model.WK.weight.data = torch.zeros(5, 5)",
        "def f(:\n    pass",  # a syntax error is the student's problem, not tampering
        "import sys, io\nbuffer = io.StringIO()\nprint(type(x).__name__, x.__class__.__name__, file=sys.stdout)",
        "self.kernel = torch.nn.Linear(5, 5)\nself.events = []",
    ],
)
def test_ordinary_code_is_not_flagged(source):
    assert scan_cell(source, SETUP_IMPORTS) == []


# -- verdicts of the kernel's checks -----------------------------------------------------------------


def check_cell(reply=None, event=None):
    record = {"role": "check", "nonce": "n1"}
    if reply is not None:
        record["reply"] = reply
    if event:
        record["event"] = event
    return nbformat.v4.new_code_cell("", metadata={"autograder": record})


@pytest.mark.parametrize(
    "reply, event, state",
    [
        ({"status": "error", "ename": "AutograderVerdict", "evalue": "n1 ok"}, None, "ok"),
        (
            {"status": "error", "ename": "AutograderVerdict", "evalue": "n1 tampered: torch.equal was replaced"},
            None,
            "tampered",
        ),
        ({"status": "ok"}, None, "missing"),  # errors swallowed
        ({"status": "error", "ename": "AutograderVerdict", "evalue": "n2 ok"}, None, "missing"),  # forged
        ({"status": "error", "ename": "NameError", "evalue": "x"}, None, "missing"),  # check code removed
        (None, None, "missing"),
        (None, "not_run", "not_run"),  # after a timeout: not tampering
    ],
)
def test_verdicts(reply, event, state):
    assert integrity.read_verdict(check_cell(reply, event), "n1")[0] == state


# -- limits and the sandbox message ------------------------------------------------------------------


@pytest.mark.parametrize("field", ["cell_timeout", "notebook_timeout", "memory", "output", "file_size"])
def test_limits_must_be_positive(field):
    with pytest.raises(ValueError, match=field):
        Limits(**{field: 0})


def test_an_unavailable_sandbox_is_announced_not_hidden(monkeypatch):
    from autograder.isolation import sandbox

    monkeypatch.setattr(sandbox, "probe", lambda: (False, "bwrap not found on PATH"))
    used, line = core.sandbox_status(True)
    assert not used and line.startswith("Sandbox: UNAVAILABLE (bwrap not found on PATH)")
    used, line = core.sandbox_status(False)
    assert not used and line.startswith("Sandbox: OFF (--no-sandbox)")


def test_the_example_class_is_what_its_script_makes(tmp_path):
    """examples/submissions/ is regenerated by examples/make_submissions.py after the notebooks change."""
    fresh = crafted.examples.write(tmp_path / "submissions")
    committed = ROOT / "examples" / "submissions"
    names = sorted(p.relative_to(fresh) for p in fresh.rglob("*") if p.is_file())
    assert names == sorted(p.relative_to(committed) for p in committed.rglob("*") if p.is_file())
    stale = [str(n) for n in names if (fresh / n).read_bytes() != (committed / n).read_bytes()]
    assert not stale, f"run `.venv/bin/python examples/make_submissions.py`: {stale}"


def test_a_verdict_carries_notes_that_are_not_tampering():
    ok = check_cell({"status": "error", "ename": "AutograderVerdict", "evalue": "n1 ok\nnoted: started the program ls"})
    assert integrity.read_verdict(ok, "n1") == ("ok", "")
    assert integrity.verdict_notes(ok) == ["started the program ls"]
    bad = check_cell(
        {
            "status": "error",
            "ename": "AutograderVerdict",
            "evalue": "n1 tampered: torch.equal was replaced\nnoted: a; b",
        }
    )
    assert integrity.read_verdict(bad, "n1") == ("tampered", "torch.equal was replaced")
    assert integrity.verdict_notes(bad) == ["a", "b"]


def test_what_the_static_scan_finds_is_a_note_not_a_flag():
    from autograder.grading.outcome import analyse

    notebook = crafted.with_cell(crafted.correct(), "import os\nprint(os.listdir('.'))")
    normalised = normalise(notebook, release())
    findings = scan_notebook(normalised.notebook.cells, normalised.student_cells())
    assert any(f.reason.endswith("uses os.listdir") for f in findings)
    graded = integrity.inject_checks(normalised.notebook, [])
    for cell in graded.cells:  # as if every check had said ok
        record = cell.metadata["autograder"]
        if record.get("role") == "check":
            record["reply"] = {"status": "error", "ename": "AutograderVerdict", "evalue": f"{record['nonce']} ok"}
    analysis = analyse(graded, findings)
    assert (analysis.status, analysis.flags, analysis.taint_from) == ("graded", [], None)
    assert analysis.notes == [f.reason for f in findings] and analysis.notes
    assert list(analysis.test_notes) == ["test_make_batch"]  # the first test after the noted cell


def test_printed_hidden_test_markers_do_not_break_nbgrader_feedback():
    from nbgrader.preprocessors import ClearHiddenTests

    from autograder.grading.outcome import Analysis, feedback_notebook

    notebook = crafted.with_cell(crafted.correct(), "print('### BEGIN HIDDEN TESTS')")
    page = feedback_notebook(notebook, Analysis(), set(), [])
    ClearHiddenTests().preprocess(page, {})  # raised "Hidden test region detected in a non-grade cell"
    assert any("BEGIN\u00a0HIDDEN\u00a0TESTS" in c.source for c in page.cells)
