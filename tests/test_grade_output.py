"""What a graded notebook leaves in the output folder (shared_assets.py) and the run's journal (journal.py)."""

import base64
import json
import os

import nbformat

from autograder.course import student_notebook
from autograder.grading import result as results
from autograder.grading.journal import Journal, fingerprint
from autograder.grading.result import GradeResult, Status
from autograder.grading.shared_assets import STATIC, SharedAssets, course_attachments, folder_size
from autograder.isolation.limits import Limits

STYLE = "body { color: black; }\n" * 400  # a large stylesheet, as nbgrader's feedback template inlines


def course_figure() -> str:
    payload, (name, mime, data) = next(iter(course_attachments(("01_data",)).items()))
    assert name.endswith(".png") and data.startswith(b"\x89PNG")
    return payload


def page(figure: str, own_image: str) -> str:
    return (
        f'<!DOCTYPE html><html><head><style type="text/css">{STYLE}</style><style>p {{}}</style></head>'
        f'<body><img alt="pipeline" src="data:image/png;base64,{figure}">'
        f'<img src="data:image/png;base64,{own_image}"></body></html>'
    )


def test_feedback_pages_link_the_course_figure_and_the_style_stored_once(tmp_path):
    figure = course_figure()
    own = base64.b64encode(b"\x89PNG a plot the student's code made").decode()
    shared = SharedAssets(tmp_path)
    first, second = shared.feedback_page(page(figure, own)), shared.feedback_page(page(figure, own))
    assert first == second
    static = sorted(p.name for p in (tmp_path / "feedback" / STATIC).iterdir())
    assert len(static) == 2 and static[0].startswith("style-") and static[1].startswith("text1-")
    assert f'href="../{STATIC}/{static[0]}"' in first and f'src="../{STATIC}/{static[1]}"' in first
    assert figure not in first and STYLE not in first
    assert own in first and "<style>p {}</style>" in first  # the student's plot and small styles stay
    assert (tmp_path / "feedback" / STATIC / static[1]).read_bytes() == base64.b64decode(figure)


def test_autograded_copies_refer_to_one_figure_and_stay_valid_notebooks(tmp_path):
    data = student_notebook("01_data").read_bytes()
    shared = SharedAssets(tmp_path)
    copies = []
    for student in ("ada", "bob"):
        folder = tmp_path / "nbgrader" / "autograded" / student / "01_data"
        folder.mkdir(parents=True)
        smaller = shared.autograded_notebook(data, folder)
        (folder / "01_data.ipynb").write_bytes(smaller)
        copies.append(folder)
        assert len(smaller) < len(data) - 50_000
        notebook = nbformat.reads(smaller.decode(), as_version=4)
        nbformat.validate(notebook)
        assert not any(cell.get("attachments") for cell in notebook.cells)
        [figure] = [p for p in folder.iterdir() if p.suffix == ".png"]
        assert any(f"]({figure.name})" in cell.source for cell in notebook.cells)
    first, second = (next(f.glob("*.png")) for f in copies)
    assert os.path.samefile(first, second)  # one copy on disk
    assert folder_size(tmp_path) < 2 * len(data)


def result(score: float) -> GradeResult:
    return GradeResult(
        "01_data",
        Status.GRADED,
        score,
        5.0,
        [results.TestResult("t", "test", score, 5.0, "passed")],
        ["a note"],
        feedback_html="<html>page</html>",
        autograded_notebook=b"{}",
        log="log",
    )


def test_the_journal_keeps_the_last_complete_line_of_each_task(tmp_path):
    journal = Journal(tmp_path)
    journal.append("ada", "f1", result(2.0))
    journal.append("bob", "f2", result(5.0))
    journal.append("ada", "f3", result(4.0))  # graded again (changed): the last line wins
    journal.close()
    with (tmp_path / "journal.jsonl").open("a") as handle:
        handle.write('{"task": "cyd/01_data", "student_id": "cyd", "fing')  # cut short by a kill
    entries = journal.load()
    assert sorted(entries) == ["ada/01_data", "bob/01_data"]
    student, print_, graded = entries["ada/01_data"]
    assert (student, print_, graded.score, graded.tests[0].result, graded.notes) == (
        "ada",
        "f3",
        4.0,
        "passed",
        ["a note"],
    )
    line = json.loads((tmp_path / "journal.jsonl").read_text().splitlines()[0])
    assert "feedback_html" not in line["result"] and "autograded_notebook" not in line["result"]


def test_a_fingerprint_changes_with_what_decides_the_grade():
    base = fingerprint(b"notebook", "01_data", Limits(), True, ())
    assert base == fingerprint(b"notebook", "01_data", Limits(), True, ())
    others = [
        fingerprint(b"notebook!", "01_data", Limits(), True, ()),
        fingerprint(None, "01_data", Limits(), True, ()),
        fingerprint(b"notebook", "02_embedding", Limits(), True, ()),
        fingerprint(b"notebook", "01_data", Limits(cell_timeout=10), True, ()),
        fingerprint(b"notebook", "01_data", Limits(), False, ()),
        fingerprint(b"notebook", "01_data", Limits(), True, ("found by content",)),
    ]
    assert len({base, *others}) == 7
