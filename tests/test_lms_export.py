"""`python -m autograder export`: grades back into Moodle and Canvas, from a class graded by the real grader.

The worksheets are built as the LMSs write them (Moodle: mod/assign/gradingtable.php downloaded through PHP's
fputcsv, UTF-8 with a BOM; Canvas: lib/gradebook_exporter.rb, with its Points Possible and Manual Posting
rows), with quoted names holding commas and umlauts, a late submission and a re-upload (`01_data-1.ipynb`).
"""

import codecs
import csv
import hashlib
import io
import shutil
import warnings
import zipfile

import crafted
import nbformat
import pytest

from autograder.__main__ import main
from autograder.grading.batch import grade_class

MOODLE_HEADER = (
    'Identifier,"Full name","Email address",Status,Grade,"Maximum Grade","Grade can be changed",'
    '"Last modified (submission)","Last modified (grade)","Feedback comments"'
)


class WithoutUtf8Flag(zipfile.ZipInfo):
    """A member name in UTF-8 without the zip's UTF-8 flag, as many zip writers store it."""

    def _encodeFilenameFlags(self):
        return self.filename.encode("utf-8"), self.flag_bits & ~0x800


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """One zip holding two Moodle participants and one Canvas student (late, re-uploaded), graded once."""
    root = tmp_path_factory.mktemp("lms")
    archive = root / "download.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        handle.writestr(
            WithoutUtf8Flag("Müller, Anna_1001_assignsubmission_file_/01_data.ipynb"),
            nbformat.writes(crafted.correct()),
        )
        handle.writestr("O'Neil, Bob_1002_assignsubmission_file_/01_data.ipynb", nbformat.writes(crafted.wrong()))
        handle.writestr("müllerjürgen_LATE_4242_99001_01_data-1.ipynb", nbformat.writes(crafted.correct()))
    before = digest(archive)
    grade_class(archive, root / "out", jobs=2, stream=io.StringIO())
    assert digest(archive) == before
    return root / "out"


def read_rows(path, delimiter=","):
    data = path.read_bytes()
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""), delimiter=delimiter))


def export(capsys, *arguments):
    code = main(["export", *map(str, arguments)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def moodle_worksheet(path, rows: list[str]):
    """A grading worksheet as Moodle downloads it: BOM, PHP quoting, "\\n" line ends."""
    path.write_bytes(codecs.BOM_UTF8 + ("\n".join([MOODLE_HEADER, *rows]) + "\n").encode("utf-8"))
    return path


def test_grading_records_who_each_student_is_in_the_lms(graded):
    with (graded / "students.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["student_id"], r["student_name"], r["lms"], r["lms_id"], r["late"]) for r in rows] == [
        ("1001", "Müller, Anna", "Moodle", "1001", ""),
        ("1002", "O'Neil, Bob", "Moodle", "1002", ""),
        ("4242", "müllerjürgen", "Canvas", "4242", "01_data"),
    ]
    grades = read_rows(graded / "grades.csv")
    assert [(r[0], r[2], r[3], r[6]) for r in grades[1:]] == [
        ("1001", "5", "5", "Müller, Anna"),
        ("1002", "0", "5", "O'Neil, Bob"),
        ("4242", "5", "5", "müllerjürgen (late)"),
    ]


def test_moodle_worksheet_filled_in_place(graded, tmp_path, capsys):
    worksheet = moodle_worksheet(
        tmp_path / "Grades-QKV-Notebooks-42.csv",
        [
            '"Participant 1001","Müller, Anna",anna@example.org,"Submitted for grading",,100.00,Yes,'
            '"Tuesday, 1 December 2026, 9:00 AM",-,',
            '"Participant 1002","O\'Neil, Bob",bob@example.org,"Submitted for grading - late",,100.00,Yes,'
            '"Tuesday, 1 December 2026, 11:40 PM",-,',
            '"Participant 1003","Brontë, Zoë",zoe@example.org,"No submission",,100.00,Yes,-,-,',
            '"Participant 1004","Łukasiewicz, Jan",jan@example.org,"No submission",40.00,100.00,Yes,-,'
            '"Monday, 30 November 2026, 2:00 PM","Handed in on paper"',
        ],
    )
    before = worksheet.read_bytes()
    out = tmp_path / "upload.csv"
    code, said, errors = export(
        capsys,
        graded,
        "--lms",
        "moodle",
        "--worksheet",
        worksheet,
        "--to",
        out,
        "--missing",
        "zero",
        "--autograded-only",
    )
    assert code == 0, errors
    assert worksheet.read_bytes() == before  # the download is never changed
    data = out.read_bytes()
    assert data.startswith(codecs.BOM_UTF8) and b"\r\n" not in data
    assert data.decode("utf-8-sig").splitlines()[0] == MOODLE_HEADER  # Moodle's own quoting kept
    rows, original = read_rows(out), read_rows(worksheet)
    assert len(rows) == len(original) and rows[0] == original[0]
    changed = {(r, c) for r, (new, old) in enumerate(zip(rows, original)) for c in range(len(old)) if new[c] != old[c]}
    assert changed == {(1, 4), (1, 9), (2, 4), (2, 9), (3, 4)}  # only Grade and Feedback comments
    by_id = {row[0]: row for row in rows[1:]}
    assert by_id["Participant 1001"][4] == "100"  # 5/5 points, Moodle's maximum is 100
    assert by_id["Participant 1002"][4] == "0"
    assert "no points for test_make_batch" in by_id["Participant 1002"][9]
    assert by_id["Participant 1003"][4] == "0"  # --missing zero
    assert by_id["Participant 1004"][4] == "40.00"  # a grade already there is kept
    assert "5 points scaled to the LMS's maximum of 100" in said
    assert "Participant 1004 (Łukasiewicz, Jan) (kept 40.00)" in errors
    assert "müllerjürgen: not from a Moodle download (Canvas)" in errors  # not dropped silently
    listed = read_rows(tmp_path / "upload-not-in-worksheet.csv")
    assert [row[:4] for row in listed[1:]] == [["4242", "müllerjürgen", "Canvas", "4242"]]


def test_moodle_students_missing_from_the_worksheet_are_listed_and_empty_stays_empty(graded, tmp_path, capsys):
    worksheet = moodle_worksheet(
        tmp_path / "worksheet.csv",
        [
            '"Participant 1001","Müller, Anna",anna@example.org,"Submitted for grading",,6.00,Yes,-,-,',
            '"Participant 1003","Brontë, Zoë",zoe@example.org,"No submission",,6.00,Yes,-,-,',
        ],
    )
    code, said, errors = export(
        capsys, graded, "--lms", "moodle", "--worksheet", worksheet, "--to", tmp_path / "upload.csv"
    )
    assert code == 0, errors
    rows = {row[0]: row for row in read_rows(tmp_path / "upload.csv")[1:]}
    assert rows["Participant 1001"][4] == "5"  # written answer not graded yet: 5 of 6
    assert "written answers not graded yet" in rows["Participant 1001"][9]
    assert rows["Participant 1003"][4] == "" and rows["Participant 1003"][9] == ""
    assert "O'Neil, Bob: Moodle participant 1002 is not in the worksheet" in errors
    listed = read_rows(tmp_path / "upload-not-in-worksheet.csv")
    assert sorted(row[0] for row in listed[1:]) == ["1002", "4242"]


def test_a_new_moodle_worksheet_holds_every_participant_of_the_download(graded, capsys):
    code, said, errors = export(capsys, graded, "--lms", "moodle")
    assert code == 0, errors
    path = graded / "export" / "moodle-grading-worksheet.csv"
    rows = read_rows(path)
    assert path.read_bytes().startswith(codecs.BOM_UTF8)
    assert rows[0] == next(csv.reader([MOODLE_HEADER]))
    assert [(r[0], r[1], r[4], r[5]) for r in rows[1:]] == [
        ("Participant 1001", "Müller, Anna", "5", "6"),
        ("Participant 1002", "O'Neil, Bob", "0", "6"),
    ]


@pytest.mark.parametrize("delimiter", [",", ";"])
def test_canvas_gradebook_filled_in_place(graded, tmp_path, capsys, delimiter):
    """Canvas's export, in the ',' and the ';' (decimal comma) flavour: only the chosen assignment's cells
    change, an excused student stays excused, the Points Possible and Manual Posting rows stay."""
    comma = delimiter == ";"
    number = (lambda text: text.replace(".", ",")) if comma else (lambda text: text)
    rows = [
        [
            "Student",
            "ID",
            "SIS User ID",
            "SIS Login ID",
            "Section",
            "Stage 01_data (4711)",
            "Quiz 1 (4712)",
            "Current Score",
            "Unposted Current Score",
            "Final Score",
            "Unposted Final Score",
        ],
        ["", "", "", "", "", "Manual Posting", "", "", "", "", ""],
        [
            "    Points Possible",
            "",
            "",
            "",
            "",
            number("6.00"),
            number("10.00"),
            "(read only)",
            "(read only)",
            "(read only)",
            "(read only)",
        ],
        [
            "Müller, Jürgen",
            "4242",
            "S-4242",
            "jmueller",
            "Kurs A, Dienstag",
            "",
            number("7.50"),
            "75",
            "75",
            "75",
            "75",
        ],
        ["Brontë, Zoë", "5151", "S-5151", "zbronte", "Kurs A, Dienstag", "", "", "", "", "", ""],
        ["O'Neil, Bob", "6161", "", "boneil", "Kurs B", "EX", "", "", "", "", ""],
        ["Student, Test", "9999", "", "", "Kurs A, Dienstag", "", "", "", "", "", ""],
    ]
    worksheet = tmp_path / "2026-12-01T1700_Grades-QKV.csv"
    buffer = io.StringIO(newline="")
    csv.writer(buffer, delimiter=delimiter, lineterminator="\n").writerows(rows)
    worksheet.write_bytes(buffer.getvalue().encode("utf-8"))
    before = worksheet.read_bytes()
    code, said, errors = export(
        capsys, graded, "--lms", "canvas", "--worksheet", worksheet, "--per-stage", "--to", tmp_path / "import.csv"
    )
    assert code == 0, errors
    assert worksheet.read_bytes() == before
    data = (tmp_path / "import.csv").read_bytes()
    assert not data.startswith(codecs.BOM_UTF8)  # Canvas's file had none: none added
    written = read_rows(tmp_path / "import.csv", delimiter)
    changed = {(r, c) for r, (new, old) in enumerate(zip(written, rows)) for c in range(len(old)) if new[c] != old[c]}
    assert changed == {(3, 5)} and len(written) == len(rows)
    assert written[3][5] == "5"  # Canvas user id 4242, 5 of 6 points
    assert written[4][5] == "" and written[5][5] == "EX"  # no submission; excused
    assert "Bob" in errors and "not from a Canvas download (Moodle)" in errors


def test_a_new_canvas_import_per_stage_and_a_plain_table(graded, tmp_path, capsys):
    code, said, errors = export(
        capsys,
        graded,
        "--lms",
        "canvas",
        "--per-stage",
        "--assignment",
        "01_data=Notebook 1: data (4711)",
        "--to",
        tmp_path / "canvas.csv",
    )
    assert code == 0, errors
    rows = read_rows(tmp_path / "canvas.csv")
    assert rows == [
        ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Notebook 1: data (4711)"],
        ["    Points Possible", "", "", "", "", "6"],
        ["müllerjürgen", "4242", "", "", "", "5"],
    ]
    code, said, errors = export(capsys, graded, "--lms", "plain", "--to", tmp_path / "plain.csv")
    assert code == 0, errors
    plain = read_rows(tmp_path / "plain.csv")
    assert plain[0] == ["student_id", "student_name", "lms", "lms_id", "total", "total max", "late", "comment"]
    assert [row[:7] for row in plain[1:]] == [
        ["1001", "Müller, Anna", "Moodle", "1001", "5", "6", ""],
        ["1002", "O'Neil, Bob", "Moodle", "1002", "0", "6", ""],
        ["4242", "müllerjürgen", "Canvas", "4242", "5", "6", "01_data"],
    ]


def test_written_answers_and_formgrader_changes_come_from_the_gradebook(graded, tmp_path, capsys):
    """Grading the written answer in Formgrader (a manual score in the gradebook) and giving a test's points
    back there are in the next export."""
    from nbgrader.api import Gradebook

    out = tmp_path / "out"
    shutil.copytree(graded, out)
    with warnings.catch_warnings(), Gradebook(f"sqlite:///{out / 'nbgrader' / 'gradebook.db'}") as gradebook:
        warnings.simplefilter("ignore")
        anna = gradebook.find_submission_notebook("01_data", "01_data", "1001")
        bob = gradebook.find_submission_notebook("01_data", "01_data", "1002")
        for grade in anna.grades + bob.grades:
            if grade.name == "answer_label_share":
                grade.manual_score = 1.0
            if grade.name == "test_make_batch" and grade.notebook.id == bob.id:
                grade.manual_score = 2.0
        gradebook.db.commit()
    code, said, errors = export(capsys, out, "--lms", "plain", "--to", tmp_path / "plain.csv")
    assert code == 0, errors
    rows = {row[0]: row for row in read_rows(tmp_path / "plain.csv")[1:]}
    assert (rows["1001"][4], rows["1001"][5]) == ("6", "6")
    assert "not graded yet" not in rows["1001"][7]
    assert (rows["1002"][4], rows["4242"][4]) == ("3", "5")  # 2 given back + the written answer; 4242 waits


@pytest.mark.parametrize(
    "arguments, words",
    [
        (["{tmp}", "--lms", "moodle"], "has no grades.csv"),
        (["{out}", "--lms", "moodle", "--worksheet", "{tmp}/nowhere.csv"], "no such file"),
        (["{out}", "--lms", "moodle", "--worksheet", "{tmp}/canvas.csv"], "is not a Moodle grading worksheet"),
        (["{out}", "--lms", "canvas", "--worksheet", "{tmp}/moodle.csv"], "is not a Canvas gradebook CSV"),
        (
            ["{out}", "--lms", "canvas", "--worksheet", "{tmp}/canvas.csv"],
            "name the one for the total with --assignment",
        ),
        (
            ["{out}", "--lms", "canvas", "--worksheet", "{tmp}/canvas.csv", "--per-stage"],
            "no assignment column for 01_data",
        ),
        (["{out}", "--lms", "moodle", "--worksheet", "{tmp}/latin1.csv"], "is not UTF-8 text"),
        (
            ["{out}", "--lms", "moodle", "--worksheet", "{tmp}/moodle.csv", "--to", "{tmp}/moodle.csv"],
            "is the worksheet itself",
        ),
        (
            ["{out}", "--lms", "plain", "--worksheet", "{tmp}/moodle.csv"],
            "--worksheet needs --lms moodle or --lms canvas",
        ),
        (["{out}", "--lms", "plain", "--notebooks", "02_embedding"], "02_embedding not graded"),
        (["{out}", "--lms", "moodle", "--worksheet", "{tmp}/scale.csv"], "graded with a scale, not points"),
    ],
)
def test_bad_input_is_one_clear_line_and_exit_2(graded, tmp_path, capsys, arguments, words):
    moodle_worksheet(tmp_path / "moodle.csv", ['"Participant 1001","Müller, Anna",,,,5.00,Yes,-,-,'])
    (tmp_path / "canvas.csv").write_text("Student,ID,SIS Login ID,Section,Quiz (1),Quiz (2)\n", encoding="utf-8")
    moodle_worksheet(tmp_path / "scale.csv", []).write_text(MOODLE_HEADER.replace('"Maximum Grade"', "Scale") + "\n")
    (tmp_path / "latin1.csv").write_bytes(MOODLE_HEADER.encode() + '\n"Participant 1",Müller\n'.encode("latin-1"))
    inputs = {p: digest(p) for p in tmp_path.iterdir() if p.is_file()}
    code, said, errors = export(capsys, *[a.format(tmp=tmp_path, out=graded) for a in arguments])
    assert code == 2
    lines = errors.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and words in lines[0], errors
    assert {p: digest(p) for p in inputs} == inputs


def test_an_output_folder_without_students_csv_uses_the_numeric_ids_and_says_so(graded, tmp_path, capsys):
    out = tmp_path / "old"
    out.mkdir()
    for name in ("grades.csv", "tests.csv"):
        shutil.copyfile(graded / name, out / name)
    code, said, errors = export(capsys, out, "--lms", "moodle", "--autograded-only")
    assert code == 0, errors
    assert "has no students.csv" in errors
    rows = read_rows(out / "export" / "moodle-grading-worksheet.csv")
    assert [(r[0], r[1], r[4]) for r in rows[1:]] == [
        ("Participant 1001", "Müller, Anna", "5"),
        ("Participant 1002", "O'Neil, Bob", "0"),
        ("Participant 4242", "müllerjürgen", "5"),
    ]
