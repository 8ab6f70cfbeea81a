"""The grading service end to end: nbgrader's real `submit` and `fetch_feedback` commands, the real grader,
and a service killed with `kill -9` in the middle of a burst of submissions."""

import csv
import os
import signal
import subprocess
import sys
import threading
import time

import crafted
import pytest

from autograder.course import ROOT
from autograder.nbgrader_cli import nbgrader_env
from autograder.service.journal import Journal
from autograder.service.server import Service, Settings
from tests.exchange_class import Exchange

pytestmark = pytest.mark.slow
STAGE = "01_data"
HIDDEN_CODE = "X, y = make_batch(20000)"  # a line of 01_data's hidden test


def published(course, ids) -> dict:
    entries = Journal(course / "autograder-service" / "journal.jsonl").load()
    return {i: entries[i] for i in ids if i in entries and entries[i].state == "published"}


def wait_for(condition, timeout, what):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def test_students_submit_and_fetch_their_feedback_without_the_instructor(tmp_path):
    exchange = Exchange(tmp_path / "exchange", [STAGE])
    course = tmp_path / "course"
    service = Service(Settings(course, exchange.root, stages=[STAGE], workers=2, poll=0.1))
    thread = threading.Thread(target=service.run, daemon=True)
    thread.start()
    try:
        ada, bob = exchange.student("ada", tmp_path / "home"), exchange.student("bob", tmp_path / "home")
        ada.run("fetch_assignment", STAGE)
        ada.write(STAGE, crafted.correct())
        bob.write(STAGE, crafted.wrong())
        assert "Submitted as" in ada.run("submit", STAGE)
        assert "Submitted as" in bob.run("submit", STAGE)
        assert service.ready.wait(120)
        ids = sorted(p.name for p in exchange.inbound.iterdir())
        wait_for(lambda: len(published(course, ids)) == 2, 300, "both feedback pages")
        assert "Fetched feedback" in ada.run("fetch_feedback", STAGE)
        assert "Fetched feedback" in bob.run("fetch_feedback", STAGE)
    finally:
        service.stop()
        thread.join(60)
    [ada_page] = ada.feedback_files(STAGE).values()
    [bob_page] = bob.feedback_files(STAGE).values()
    ada_text, bob_text = ada_page.read_text(encoding="utf-8"), bob_page.read_text(encoding="utf-8")
    assert "01_data: 5 of 5 points from the autograded tests" in ada_text
    assert "All autograded checks passed." in ada_text
    assert "01_data: 0 of 5 points" in bob_text
    start = bob_text.index("autograder-summary")
    summary = bob_text[start : bob_text.index("</div>", start)]
    assert "First failing check" in summary and "test_make_batch" in summary and "AssertionError" in summary
    for text in (ada_text, bob_text):
        assert HIDDEN_CODE not in text  # hidden tests stay hidden
        assert text.index("autograder-summary") < text.index("(Score: ")  # summary on top of the full page
    # the instructor's side: gradebook (Formgrader), autograded copies, grades.csv
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        assert gradebook.find_submission(STAGE, "ada").score == 5
        assert gradebook.find_submission(STAGE, "bob").score == 0
        assert gradebook.find_submission(STAGE, "bob").needs_manual_grade  # the written answer waits
    assert (course / "autograded" / "ada" / STAGE / f"{STAGE}.ipynb").exists()
    with (course / "grades.csv").open() as handle:
        rows = {row["student_id"]: row for row in csv.DictReader(handle)}
    assert (rows["ada"]["score"], rows["bob"]["score"]) == ("5", "0")


def serve(course, exchange) -> subprocess.Popen:
    command = [
        sys.executable,
        "-m",
        "autograder",
        "serve",
        "--course",
        str(course),
        "--exchange",
        str(exchange),
        "--notebooks",
        STAGE,
        "--jobs",
        "2",
        "--poll",
        "0.1",
    ]
    return subprocess.Popen(command, cwd=ROOT, env=nbgrader_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def started(course, times: int):
    log = course / "autograder-service" / "service.log"
    return lambda: log.exists() and log.read_text().count("INFO ready:") >= times


def test_kill_9_during_a_burst_loses_nothing_and_grades_each_once(tmp_path):
    exchange = Exchange(tmp_path / "exchange", [STAGE])
    course = tmp_path / "course"
    process = serve(course, exchange.root)
    try:
        wait_for(started(course, 1), 180, "the service to start")
        kinds = {}
        for number in range(8):
            student = exchange.student(f"s{number}", tmp_path / "home")
            kind = "correct" if number % 2 == 0 else "wrong"
            kinds[student.submit_now(STAGE, getattr(crafted, kind)())] = kind
        wait_for(lambda: published(course, kinds), 300, "the first feedback")
        os.kill(process.pid, signal.SIGKILL)
        process.wait(30)
    finally:
        if process.poll() is None:
            process.kill()
    done_before = published(course, kinds)
    assert 0 < len(done_before) < len(kinds)  # killed in the middle of the burst
    process = serve(course, exchange.root)
    try:
        wait_for(started(course, 2), 180, "the service to start again")
        wait_for(lambda: len(published(course, kinds)) == len(kinds), 300, "every feedback after the restart")
        process.send_signal(signal.SIGTERM)
        assert process.wait(60) == 0
    finally:
        if process.poll() is None:
            process.kill()
    entries = Journal(course / "autograder-service" / "journal.jsonl").load()
    for key, kind in kinds.items():
        assert entries[key].states.count("graded") == 1, entries[key].states  # graded exactly once
        assert entries[key].states[-1] == "published"
        assert entries[key].score == (5 if kind == "correct" else 0)
        student = exchange.student(key.split("+")[0], tmp_path / "home")
        assert student.published_page(key, STAGE).exists()
    with (course / "grades.csv").open() as handle:
        assert len(list(csv.DictReader(handle))) == len(kinds)
