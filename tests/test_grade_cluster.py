"""`python -m autograder grade --cluster`: a real Dask cluster on this machine (a `dask scheduler` and two
`dask worker` processes under their nannies, on 127.0.0.1), graded like a local run; a worker killed
mid-run, a killed client resumed, a notebook that kills its workers, a worker that cannot sandbox."""

import csv
import json
import signal
import subprocess
import sys
from pathlib import Path

import crafted
import pytest
from dask_cluster import LoopbackCluster, wait_until

from autograder.course import ROOT
from autograder.isolation import sandbox

pytest.importorskip("distributed")
pytestmark = pytest.mark.slow

SANDBOX = sandbox.probe()[0]
# Where this machine cannot sandbox, every worker would refuse: those runs grade without it, on purpose.
MODE = [] if SANDBOX else ["--no-sandbox"]
SLOW = "import time\ntime.sleep(4)"  # a cell that keeps a notebook on its worker for a few seconds
# Grading this notebook kills the Dask worker process it runs on (a stand-in for a notebook that takes the
# whole machine's memory); without the sandbox the kernel can see the worker among its parents.
KILL_THE_WORKER = (
    "import os, signal, psutil\n"
    "for parent in psutil.Process().parents():\n"
    "    if 'spawn_main' in ' '.join(parent.cmdline()):\n"
    "        os.kill(parent.pid, signal.SIGKILL)\n"
    "        break"
)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    with LoopbackCluster(tmp_path_factory.mktemp("dask"), workers=2, threads=1, allowed_failures=1) as running:
        yield running


def command(submissions, out, *extra):
    return [sys.executable, "-m", "autograder", "grade", str(submissions), "--out", str(out), *MODE, *extra]


def grade(submissions, out, *extra, timeout=900):
    return subprocess.run(command(submissions, out, *extra), cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def rows(out) -> dict:
    with (out / "grades.csv").open(encoding="utf-8") as handle:
        return {r["student_id"]: r for r in csv.DictReader(handle)}


def journal(out) -> list[dict]:
    path = out / "journal.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []


def worker_address(cluster, name: str) -> str:
    with cluster.client() as client:
        return next(a for a, w in client.scheduler_info(n_workers=-1)["workers"].items() if w["name"] == name)


def test_a_worker_that_cannot_sandbox_refuses_and_says_why(cluster, tmp_path):
    """A third worker whose PATH has no bubblewrap: the run stops before grading and names it; with
    --no-sandbox the same cluster grades."""
    submissions = crafted.write_class(tmp_path / "class", {"ada": crafted.correct()})
    cluster.start_worker("nobwrap", env={"PATH": str(Path(sys.executable).parent)})
    try:
        bad = worker_address(cluster, "nobwrap")
        refused = subprocess.run(
            [
                sys.executable,
                "-m",
                "autograder",
                "grade",
                str(submissions),
                "--out",
                str(tmp_path / "refused"),
                "--cluster",
                cluster.address,
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert refused.returncode == 2, refused.stdout + refused.stderr
        error = refused.stderr.strip().splitlines()[-1]
        assert error.startswith("error: ") and f"worker {bad} refuses to grade" in error, refused.stderr
        assert "bwrap" in error and "not found on PATH" in error and "--no-sandbox" in error
        assert not (tmp_path / "refused" / "grades.csv").exists()
        allowed = subprocess.run(
            [
                sys.executable,
                "-m",
                "autograder",
                "grade",
                str(submissions),
                "--out",
                str(tmp_path / "allowed"),
                "--cluster",
                cluster.address,
                "--no-sandbox",
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert allowed.returncode == 0, allowed.stdout + allowed.stderr
        assert "Sandbox: OFF (--no-sandbox)" in allowed.stdout
        assert rows(tmp_path / "allowed")["ada"]["score"] == "5"
    finally:
        cluster.stop_worker("nobwrap")


def test_a_class_on_the_cluster_gets_the_grades_of_a_local_run(cluster, tmp_path):
    students = {
        "ada": crafted.correct(),
        "bob": crafted.wrong(),
        "cyd": crafted.with_cell(crafted.wrong(), crafted.SNEAKY_PATCH),
    }
    submissions = crafted.write_class(tmp_path / "class", students)
    local = grade(submissions, tmp_path / "local", "--jobs", "2")
    remote = grade(submissions, tmp_path / "remote", "--cluster", cluster.address)
    assert local.returncode == 0 and remote.returncode == 0, local.stderr + remote.stdout + remote.stderr
    for name in ("grades.csv", "tests.csv", "collected.csv"):
        assert (tmp_path / "local" / name).read_bytes() == (tmp_path / "remote" / name).read_bytes(), name
    assert {r["student_id"]: r["status"] for r in rows(tmp_path / "remote").values()} == {
        "ada": "graded",
        "bob": "graded",
        "cyd": "flagged",
    }
    assert sorted(e["task"] for e in journal(tmp_path / "remote")) == ["ada/01_data", "bob/01_data", "cyd/01_data"]
    assert "2 worker(s) with 2 grading slot(s)" in remote.stdout and "Output: " in remote.stdout
    # --resume with nothing changed keeps every result and writes the same tables (here: on this machine)
    again = grade(submissions, tmp_path / "local", "--jobs", "2", "--resume")
    assert again.returncode == 0, again.stderr
    assert "3 notebook(s) already graded with the same content are kept; 0 to grade" in again.stdout
    assert (tmp_path / "local" / "grades.csv").read_bytes() == (tmp_path / "remote" / "grades.csv").read_bytes()
    # the graders are gone from the workers after the run
    with cluster.client() as client:
        assert all(
            not [n for n in names if n.startswith("qkv-grader")]
            for names in client.run(lambda dask_worker: list(dask_worker.plugins)).values()
        )


def test_a_worker_killed_mid_run_loses_nothing(cluster, tmp_path):
    """SIGKILL a worker (its nanny, the worker, its graders) while it grades: its notebook is graded again
    on the other worker; every student has one row and one journal line."""
    students = {f"s{i}": crafted.with_cell(crafted.correct(), SLOW) for i in range(4)}
    submissions = crafted.write_class(tmp_path / "class", students)
    out = tmp_path / "out"
    client_process = subprocess.Popen(
        command(submissions, out, "--cluster", cluster.address),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        victim = worker_address(cluster, "w1")
        with cluster.client() as watcher:
            assert wait_until(
                lambda: watcher.processing().get(victim) or client_process.poll() is not None, timeout=600
            ), "w1 never got a task"
            assert client_process.poll() is None, client_process.communicate()[0]
        cluster.kill_worker("w1")
        output, _ = client_process.communicate(timeout=900)
    finally:
        client_process.kill()
        if "w1" not in cluster.workers:
            cluster.start_worker("w1")
    assert client_process.returncode == 0, output
    graded = rows(out)
    assert sorted(graded) == sorted(students)
    assert {(r["status"], r["score"]) for r in graded.values()} == {("graded", "5")}, graded
    tasks = [e["task"] for e in journal(out)]
    assert sorted(tasks) == sorted(f"{s}/01_data" for s in students)  # each once: nothing lost, nothing doubled


def test_resume_after_the_client_was_killed_grades_only_what_was_missing(cluster, tmp_path):
    students = {f"s{i}": crafted.with_cell(crafted.correct(), SLOW) for i in range(4)}
    submissions = crafted.write_class(tmp_path / "class", students)
    out = tmp_path / "out"
    first = subprocess.Popen(
        command(submissions, out, "--cluster", cluster.address),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert wait_until(lambda: len(journal(out)) >= 1, timeout=600), "nothing was graded"
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    done = {e["task"].split("/")[0] for e in journal(out)}
    assert 1 <= len(done) < 4, done
    # one graded notebook changes, a new student hands in: both are graded, the rest are kept
    changed = sorted(done)[0]
    crafted.write_class(submissions, {changed: crafted.with_cell(crafted.wrong(), SLOW), "new": crafted.correct()})
    resumed = grade(submissions, out, "--cluster", cluster.address, "--resume")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    to_grade = 4 - len(done) + 2
    assert (
        f"{len(done) - 1} notebook(s) already graded with the same content are kept; {to_grade} to grade"
        in resumed.stdout
    )
    assert resumed.stdout.count("/01_data: graded") == to_grade
    entries = journal(out)
    assert len(entries) == len(done) + to_grade
    graded = rows(out)
    assert sorted(graded) == sorted([*students, "new"])
    assert graded[changed]["score"] == "0" and all(graded[s]["score"] == "5" for s in graded if s != changed)


def test_a_notebook_that_kills_every_worker_it_lands_on_ends_as_error_and_the_run_goes_on(cluster, tmp_path):
    submissions = crafted.write_class(
        tmp_path / "class", {"ada": crafted.correct(), "mal": crafted.with_cell(crafted.correct(), KILL_THE_WORKER)}
    )
    out = tmp_path / "out"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "autograder",
            "grade",
            str(submissions),
            "--out",
            str(out),
            "--no-sandbox",
            "--cluster",
            cluster.address,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    graded = rows(out)
    assert (graded["ada"]["status"], graded["ada"]["score"]) == ("graded", "5")
    assert graded["mal"]["status"] == "error"
    assert "killed every worker it ran on" in graded["mal"]["detail"]
    assert "Needs attention" in result.stdout and "mal 01_data: error" in result.stdout
    cluster.wait_for_workers(2)  # the nannies started their workers again
