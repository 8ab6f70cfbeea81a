"""Finding students and notebooks in folders, nbgrader's submitted/ layout, Moodle and Canvas zips."""

import io
import json
import unicodedata
import zipfile

import nbformat
import pytest

from autograder.course import STAGES, student_notebook
from autograder.grading.batch import stage_grade_ids
from autograder.grading.collect import CollectError, collect

NOTEBOOK = nbformat.writes(nbformat.read(student_notebook("01_data"), as_version=4)).encode()
SECOND = nbformat.writes(nbformat.read(student_notebook("02_embedding"), as_version=4)).encode()


@pytest.fixture(scope="module")
def ids():
    return stage_grade_ids()


def make_folder(root, files: dict):
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def make_zip(path, files: dict):
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return path


def graded(collection):
    """{student: {stage: file path}}"""
    return {
        s.student_id: {stage: nb.entry.path for stage, nb in s.notebooks.items()} for s in collection.students.values()
    }


def test_one_folder_per_student(tmp_path, ids):
    root = make_folder(
        tmp_path / "class",
        {
            "ada/01_data.ipynb": NOTEBOOK,
            "ada/02_embedding.ipynb": SECOND,
            "bob/01_data.ipynb": NOTEBOOK,
            "bob/notes.txt": b"x",
        },
    )
    (root / "cyd").mkdir()  # handed in nothing: still a student
    collection = collect(root, STAGES, ids)
    assert graded(collection) == {
        "ada": {"01_data": "ada/01_data.ipynb", "02_embedding": "ada/02_embedding.ipynb"},
        "bob": {"01_data": "bob/01_data.ipynb"},
        "cyd": {},
    }
    assert ("bob", "bob/notes.txt", "ignored: not a notebook") in collection.inventory
    assert "other files ignored: notes.txt" in collection.students["bob"].notes


def test_wrapping_folder_and_nbgrader_submitted_layout(tmp_path, ids):
    root = make_folder(
        tmp_path / "course",
        {
            "submitted/ada/01_data/01_data.ipynb": NOTEBOOK,
            "submitted/ada/01_data/timestamp.txt": b"2024-01-01",
            "submitted/bob/02_embedding/02_embedding.ipynb": SECOND,
        },
    )
    assert graded(collect(root, STAGES, ids)) == {
        "ada": {"01_data": "submitted/ada/01_data/01_data.ipynb"},
        "bob": {"02_embedding": "submitted/bob/02_embedding/02_embedding.ipynb"},
    }
    wrapped = make_folder(
        tmp_path / "download", {"class/ada/01_data.ipynb": NOTEBOOK, "class/bob/01_data.ipynb": NOTEBOOK}
    )
    assert sorted(graded(collect(wrapped, STAGES, ids))) == ["ada", "bob"]


def test_single_student_in_nbgrader_layout_is_not_mistaken_for_a_wrapper(tmp_path, ids):
    root = make_folder(
        tmp_path / "one", {"ada/01_data/01_data.ipynb": NOTEBOOK, "ada/02_embedding/02_embedding.ipynb": SECOND}
    )
    assert graded(collect(root, STAGES, ids)) == {
        "ada": {"01_data": "ada/01_data/01_data.ipynb", "02_embedding": "ada/02_embedding/02_embedding.ipynb"}
    }


def test_moodle_zip_in_folders_and_flat(tmp_path, ids):
    archive = make_zip(
        tmp_path / "moodle.zip",
        {
            "Ada Lovelace_1234_assignsubmission_file_/01_data.ipynb": NOTEBOOK,
            "Ada Lovelace_1234_assignsubmission_onlinetext_/onlinetext.html": b"<p>hi</p>",
            "Bob O'Neil_77_assignsubmission_file_02_embedding.ipynb": SECOND,
        },
    )
    collection = collect(archive, STAGES, ids)
    assert graded(collection) == {
        "1234": {"01_data": "Ada Lovelace_1234_assignsubmission_file_/01_data.ipynb"},
        "77": {"02_embedding": "Bob O'Neil_77_assignsubmission_file_02_embedding.ipynb"},
    }
    assert collection.students["1234"].name == "Ada Lovelace"
    assert "Moodle" in collection.layout


def test_canvas_zip_with_late_work_and_resubmission_suffix(tmp_path, ids):
    archive = make_zip(
        tmp_path / "submissions.zip",
        {
            "lovelaceada_4242_99001_01_data.ipynb": NOTEBOOK,
            "oneilbob_late_5151_99002_01_data-1.ipynb": NOTEBOOK,
            "oneilbob_late_5151_99003_02_embedding (2).ipynb": SECOND,
        },
    )
    collection = collect(archive, STAGES, ids)
    assert graded(collection) == {
        "4242": {"01_data": "lovelaceada_4242_99001_01_data.ipynb"},
        "5151": {
            "01_data": "oneilbob_late_5151_99002_01_data-1.ipynb",
            "02_embedding": "oneilbob_late_5151_99003_02_embedding (2).ipynb",
        },
    }
    assert collection.students["5151"].name == "oneilbob"
    assert collection.students["5151"].late == {"01_data", "02_embedding"}
    assert collection.students["5151"].display_name == "oneilbob (late)"  # grades.csv's student_name
    assert (collection.students["4242"].lms, collection.students["4242"].lms_id) == ("Canvas", "4242")


def test_non_ascii_ids_stay_readable_and_stable(tmp_path, ids):
    """A folder named `Müller, Anna (late)` keeps its letters in the id and its whole name as the name, the
    same id whether the zip wrote `ü` precomposed or as u + a combining mark (macOS), with or without the
    zip's UTF-8 flag."""

    class WithoutUtf8Flag(zipfile.ZipInfo):  # what macOS's Archive Utility and many LMS downloads write
        def _encodeFilenameFlags(self):
            return self.filename.encode("utf-8"), self.flag_bits & ~0x800

    precomposed = "Müller, Anna (late)/01_data.ipynb"
    decomposed = unicodedata.normalize("NFD", precomposed)
    for name, info in [
        (precomposed, zipfile.ZipInfo),
        (decomposed, zipfile.ZipInfo),
        (precomposed, WithoutUtf8Flag),
        ("Zoë Brontë_77_assignsubmission_file_/01_data.ipynb", WithoutUtf8Flag),
    ]:
        archive = tmp_path / "class.zip"
        with zipfile.ZipFile(archive, "w") as handle:
            handle.writestr(info(name), NOTEBOOK)
        [student] = collect(archive, STAGES, ids).students.values()
        if "Zoë" in name:
            assert (student.student_id, student.name, student.lms) == ("77", "Zoë Brontë", "Moodle")
        else:
            assert (student.student_id, student.name, student.lms_id) == (
                "Müller_Anna_late",
                "Müller, Anna (late)",
                "Müller, Anna (late)",
            )
            assert "student id 'Müller, Anna (late)' written as 'Müller_Anna_late'" in student.notes


def test_a_students_own_zip_is_opened_and_a_renamed_notebook_is_recognised_by_content(tmp_path, ids):
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as archive:
        archive.writestr("my work/Untitled.ipynb", SECOND)  # no stage in its name: matched by its cells
        archive.writestr("my work/01_data-Copy1.ipynb", NOTEBOOK)
    root = make_folder(
        tmp_path / "class",
        {
            "ada/handin.zip": inner.getvalue(),
            "ada/scratch.ipynb": json.dumps({"cells": [], "nbformat": 4}).encode(),
            "ada/__MACOSX/._01_data.ipynb": b"junk",
        },
    )
    collection = collect(root, STAGES, ids)
    assert graded(collection) == {
        "ada": {
            "01_data": "ada/handin.zip/my work/01_data-Copy1.ipynb",
            "02_embedding": "ada/handin.zip/my work/Untitled.ipynb",
        }
    }
    assert ("ada", "ada/scratch.ipynb", "ignored: a notebook of no stage of this course") in collection.inventory
    assert not any("__MACOSX" in path for _, path, _ in collection.inventory)


def test_two_files_for_one_stage_keep_the_exact_name_and_list_the_other(tmp_path, ids):
    root = make_folder(tmp_path / "class", {"ada/01_data.ipynb": NOTEBOOK, "ada/01_data (1).ipynb": NOTEBOOK})
    collection = collect(root, STAGES, ids)
    assert graded(collection) == {"ada": {"01_data": "ada/01_data.ipynb"}}
    assert ("ada", "ada/01_data (1).ipynb", "ignored: another file for 01_data") in collection.inventory


def test_unsafe_student_ids_become_safe_and_stay_distinct(tmp_path, ids):
    archive = make_zip(
        tmp_path / "odd.zip",
        {"a b/01_data.ipynb": NOTEBOOK, "a_b/01_data.ipynb": NOTEBOOK, "../evil/01_data.ipynb": NOTEBOOK},
    )
    students = collect(archive, STAGES, ids).students
    assert sorted(students) == ["a_b", "a_b-2", "evil"]  # '../evil' is only a label inside the zip
    assert all("/" not in s and ".." not in s for s in students)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: p / "nowhere", "no such folder or zip file"),
        (lambda p: (p / "x.txt").write_text("hi") and p / "x.txt", "neither a folder nor a zip"),
        (lambda p: (p / "empty").mkdir() or p / "empty", "no student notebooks found"),
        (lambda p: make_folder(p / "text", {"ada/readme.md": b"hi"}), "no student notebooks found"),
    ],
)
def test_bad_input_is_a_clear_error(tmp_path, ids, make, message):
    with pytest.raises(CollectError, match=message):
        collect(make(tmp_path), STAGES, ids)
