"""`python -m autograder grade`: its command line, its errors, a Canvas zip graded twice."""

import csv
import hashlib
import signal
import subprocess
import sys
import time
import zipfile

import crafted
import nbformat
import psutil
import pytest

from autograder.__main__ import main
from autograder.course import ROOT
from autograder.grading.batch import MARKER, prepare_output
from autograder.nbgrader_cli import nbgrader_env


@pytest.fixture
def small_class(tmp_path):
    return crafted.write_class(tmp_path / "class", {"ada": crafted.correct()})


def error_line(capsys) -> str:
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("error: ")
    return lines[0]


@pytest.mark.parametrize(
    "arguments, words",
    [
        (["grade", "{tmp}/nowhere"], "no such folder or zip file"),
        (["grade", "{tmp}/class/ada/01_data.ipynb"], "neither a folder nor a zip file"),
        (["grade", "{tmp}/empty"], "no student notebooks found"),
        (["grade", "{tmp}/class", "--jobs", "0"], "--jobs must be at least 1"),
        (["grade", "{tmp}/class", "--notebooks", "07_transformers"], "unknown notebook(s) 07_transformers"),
        (["grade", "{tmp}/class", "--out", "{tmp}/class/results"], "inside the submissions folder"),
        (["grade", "{tmp}/class", "--out", "{tmp}/precious"], "already holds other files"),
        (["grade", "{tmp}/class", "--cell-timeout", "0"], "cell_timeout must be a positive whole number"),
    ],
)
def test_bad_arguments_give_one_clear_line_and_exit_2(tmp_path, small_class, capsys, arguments, words):
    (tmp_path / "empty").mkdir()
    (tmp_path / "precious").mkdir()
    (tmp_path / "precious" / "thesis.tex").write_text("keep me")
    code = main([a.format(tmp=tmp_path) for a in arguments])
    assert code == 2
    assert words in error_line(capsys)
    assert (tmp_path / "precious" / "thesis.tex").read_text() == "keep me"
    assert not (tmp_path / "class" / "results").exists()


def canvas_zip(path):
    """Three students as Canvas names them, one of them late, plus a PDF."""
    files = {
        "lovelaceada_4242_99001_01_data.ipynb": crafted.correct(),
        "babbagecharles_late_5151_99002_01_data-1.ipynb": crafted.wrong(),
        "hopperg_6161_99003_01_data.ipynb": crafted.with_cell(crafted.wrong(), crafted.SNEAKY_PATCH),
        "hopperg_6161_99004_report.pdf": b"%PDF-1.4",
    }
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content if isinstance(content, bytes) else nbformat.writes(content))
    return path


def grade(zip_path, out):
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "autograder",
            "grade",
            str(zip_path),
            "--out",
            str(out),
            "--jobs",
            "2",
            "--cell-timeout",
            "60",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )


@pytest.fixture(scope="module")
def canvas_runs(tmp_path_factory):
    """The same Canvas zip graded twice, into two folders."""
    root = tmp_path_factory.mktemp("canvas")
    archive = canvas_zip(root / "submissions.zip")
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    runs = [grade(archive, root / "first"), grade(archive, root / "second")]
    return {"root": root, "runs": runs, "digest": digest, "archive": archive}


@pytest.mark.slow
def test_a_canvas_zip_graded_twice_gives_the_same_result_and_stays_untouched(canvas_runs):
    root, (first, second) = canvas_runs["root"], canvas_runs["runs"]
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    for name in ("grades.csv", "tests.csv", "collected.csv"):
        assert (root / "first" / name).read_bytes() == (root / "second" / name).read_bytes(), name
    assert hashlib.sha256(canvas_runs["archive"].read_bytes()).hexdigest() == canvas_runs["digest"]
    grades = (root / "first" / "grades.csv").read_text(encoding="utf-8").splitlines()
    assert grades[1:] == [
        "4242,01_data,5,5,graded,,lovelaceada",
        "5151,01_data,0,5,graded,,babbagecharles (late)",
        "6161,01_data,0,5,flagged,flagged: torch.allclose was replaced; other files ignored: "
        "hopperg_6161_99004_report.pdf,hopperg",
    ]
    assert "Time:" in first.stdout and "4242" in first.stdout


@pytest.mark.slow
def test_the_class_gradebook_serves_formgrader_and_nbgrader_export(canvas_runs):
    """OUT/nbgrader is an nbgrader course: every graded submission, tampered tests at 0, flagged notebooks
    flagged, written answers waiting for a person."""
    from nbgrader.api import Gradebook

    course = canvas_runs["root"] / "first" / "nbgrader"
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        assert sorted(s.id for s in gradebook.students) == ["4242", "5151", "6161"]
        honest = gradebook.find_submission_notebook("01_data", "01_data", "4242")
        cheat = gradebook.find_submission_notebook("01_data", "01_data", "6161")
        assert (honest.score, honest.flagged, cheat.score, cheat.flagged) == (5, False, 0, True)
        assert honest.needs_manual_grade  # the written answer
    assert (course / "autograded" / "6161" / "01_data" / "01_data.ipynb").exists()
    exported = subprocess.run(
        [sys.executable, "-m", "nbgrader", "export", "--log-level=WARN"],
        cwd=course,
        capture_output=True,
        text=True,
        env=nbgrader_env(),
    )
    assert exported.returncode == 0, exported.stderr
    assert "01_data,,,6161," in (course / "grades.csv").read_text(encoding="utf-8")


def test_a_second_run_replaces_only_what_the_grader_wrote(tmp_path):
    out = tmp_path / "out"
    prepare_output(out, tmp_path / "class")
    (out / "grades.csv").write_text("old")
    (out / "feedback" / "ada").mkdir(parents=True)
    prepare_output(out, tmp_path / "class")
    assert not (out / "grades.csv").exists() and not (out / "feedback").exists() and (out / MARKER).exists()


def test_without_warm_servers_grading_goes_on_cold_and_says_so(tmp_path, monkeypatch):
    """--cold-kernels, and servers that cannot start: the same scores from fresh interpreters, and the
    summary says which."""
    from autograder.grading import batch
    from autograder.isolation import warm_jobs, warm_kernels

    submissions = crafted.write_class(tmp_path / "class", {"ada": crafted.correct(), "bob": crafted.wrong()})
    results = {}
    results["cold"] = batch.grade_class(submissions, tmp_path / "cold", jobs=2, warm=False)

    def cannot_start(folder, *args):
        raise RuntimeError("no room here")

    monkeypatch.setattr(warm_jobs, "start_server", cannot_start)
    monkeypatch.setattr(warm_kernels, "start_server", cannot_start)
    results["broken"] = batch.grade_class(submissions, tmp_path / "broken", jobs=2)
    scores = {kind: sorted((r.student_id, r.status, r.score) for r in rows) for kind, rows in results.items()}
    assert scores["cold"] == scores["broken"] == [("ada", "graded", 5.0), ("bob", "graded", 0.0)]
    cold = (tmp_path / "cold" / "summary.txt").read_text(encoding="utf-8")
    assert "Warm start: off (--cold-kernels)" in cold
    broken = (tmp_path / "broken" / "summary.txt").read_text(encoding="utf-8")
    assert "workers fresh (the server could not start: no room here)" in broken
    sandboxed = "Sandbox: on" in broken
    assert ("kernels fresh (the server could not start: no room here)" in broken) == sandboxed


def starts_a_kernel(process) -> bool:
    """A kernel launcher (sandboxed: the sandbox's launcher; without the sandbox: ipykernel itself)."""
    try:
        command = " ".join(process.cmdline())
    except psutil.Error:
        return False
    return "sandbox_kernel" in command or "ipykernel" in command


def test_ctrl_c_keeps_the_tables_and_leaves_no_process_behind(tmp_path):
    """Ctrl-C while notebooks run: exit code 130, every student still has a row, and no worker, kernel or
    warm server outlives the grader."""
    students = {f"s{i}": crafted.with_cell(crafted.correct(), crafted.LOOP) for i in range(4)}
    submissions = crafted.write_class(tmp_path / "class", students)
    # Ctrl-C as a terminal delivers it; a shell's background job would start the grader with SIGINT ignored.
    process = subprocess.Popen(
        [sys.executable, "-m", "autograder", "grade", str(submissions), "--out", str(tmp_path / "out"), "--jobs", "2"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    grader = psutil.Process(process.pid)
    deadline = time.monotonic() + 180
    spawned = []  # everything the grader started: servers, workers, sandboxes, kernels
    while time.monotonic() < deadline and not any(map(starts_a_kernel, spawned)):
        time.sleep(0.2)
        try:
            spawned += [p for p in grader.children(recursive=True) if p not in spawned]
        except psutil.Error:
            break
    time.sleep(2)
    spawned += [p for p in grader.children(recursive=True) if p not in spawned]
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 130, output
    with (tmp_path / "out" / "grades.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert sorted(r["student_id"] for r in rows) == sorted(students)
    assert any(r["detail"] == "grading was interrupted" for r in rows)
    time.sleep(1)
    assert [p for p in spawned if p.is_running() and p.status() != psutil.STATUS_ZOMBIE] == []
