"""The grading service's rules (autograder/service), with nbgrader's own submit code writing the exchange.

The grading function is replaced by a recorder (`FakeGrading`) so that each rule is tested in a second:
which submissions get graded, in which order, and what each student finds. The real grader, the real
`nbgrader submit` / `fetch_feedback` commands and a `kill -9` are in tests/test_service_e2e.py.
"""

import json
import logging
import os
import threading
import time

import nbformat
import pytest

from autograder.__main__ import main as autograder_main
from autograder.grading.result import GradeResult, Status
from autograder.grading.result import TestResult as Check
from autograder.service import pages
from autograder.service.exchange import parse_name, parse_timestamp
from autograder.service.fair_queue import FairQueue
from autograder.service.journal import Journal
from autograder.service.server import Service, Settings
from tests.exchange_class import Exchange

STAGES = ["01_data", "02_embedding", "03_keys_values"]


def notebook_with(marker: str):
    """A notebook whose only cell says which submission it is (the fake grader reads it)."""
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(f"# {marker}")])


class FakeGrading:
    """Stands in for grade_notebook: records what it was given; the score is the number in the marker.
    `hold()` makes the next call wait until `release()`, to build a queue behind it."""

    def __init__(self):
        self.calls: list[tuple[str, str]] = []  # (stage, marker)
        self._gate = threading.Event()
        self._gate.set()
        self.started = threading.Event()
        self.failures = 0  # calls that fail before one succeeds

    def hold(self):
        self._gate.clear()
        self.started.clear()

    def release(self):
        self._gate.set()

    def __call__(self, data, stage, notes):
        if self.failures:
            self.failures -= 1
            raise OSError(28, "No space left on device")
        if data is None:  # what grade_notebook gives for a stage's notebook not handed in
            self.calls.append((stage, None))
            return GradeResult(stage, Status.MISSING, 0.0, 10.0, feedback_html="<p>no notebook</p>")
        marker = nbformat.reads(data.decode(), as_version=4).cells[0].source[2:]
        self.calls.append((stage, marker))
        self.started.set()
        self._gate.wait(30)
        score = float(marker.split("-")[-1])
        return GradeResult(
            stage,
            Status.GRADED,
            score,
            10.0,
            [Check("test_one", "test", score, 10.0, "passed" if score == 10 else "failed")],
            feedback_html=f"<html><body><p>full page of {marker}</p></body></html>",
        )


@pytest.fixture
def served(tmp_path):
    """start(**settings) -> (service, exchange, grading); the service runs in a thread until the test ends."""
    running = []

    def start(exchange=None, **overrides):
        exchange = exchange or Exchange(tmp_path / "exchange", STAGES)
        grading = FakeGrading()
        settings = Settings(tmp_path / "course", exchange.root, stages=STAGES, workers=1, poll=0.05)
        for key, value in overrides.items():
            setattr(settings, key, value)
        service = Service(settings, grade=grading)
        thread = threading.Thread(target=service.run, daemon=True)
        thread.start()
        assert service.ready.wait(30)
        running.append((service, thread))
        return service, exchange, grading

    yield start
    for service, thread in running:
        service.stop()
        thread.join(30)


def wait_published(service, ids, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        entries = service.journal.load()
        if all(i in entries and entries[i].state == "published" for i in ids):
            return entries
        time.sleep(0.05)
    raise AssertionError(f"not all published: {[(i, service.journal.load().get(i)) for i in ids]}")


def page_of(student, submission_id, stage):
    return student.published_page(submission_id, stage).read_text(encoding="utf-8")


def test_latest_submission_counts_and_replaces_a_queued_one(served, tmp_path):
    service, exchange, grading = served()
    ada = exchange.student("ada", tmp_path / "home")
    grading.hold()
    first = ada.submit_now("01_data", notebook_with("ada-1"))
    assert grading.started.wait(10)  # the first is being graded; the next two wait in the queue
    second = ada.submit_now("01_data", notebook_with("ada-2"))
    wait_until(lambda: service.queue.waiting() == 1)
    third = ada.submit_now("01_data", notebook_with("ada-7"))
    entries = wait_published(service, [second])
    grading.release()
    entries = wait_published(service, [first, third])
    assert grading.calls == [("01_data", "ada-1"), ("01_data", "ada-7")]  # the second was never graded
    assert entries[second].outcome == "replaced" and entries[second].by == third
    assert "replaced by your newer submission" in page_of(ada, second, "01_data")
    assert "full page of ada-7" in page_of(ada, third, "01_data")
    assert "7 of 10 points" in page_of(ada, third, "01_data")
    grades = (tmp_path / "course" / "grades.csv").read_text().splitlines()
    assert grades[1].startswith("ada,01_data,7,10,graded")  # the latest, not the first
    collected = (tmp_path / "course" / "collected.csv").read_text()
    assert "replaced by a newer submission" in collected and collected.count(",graded: ") == 2


def test_of_two_found_at_once_only_the_newer_is_graded(served, tmp_path):
    exchange = Exchange(tmp_path / "exchange", STAGES)
    ada = exchange.student("ada", tmp_path / "home")
    older = ada.submit_now("01_data", notebook_with("ada-3"))  # both wait in the inbound (the service was down)
    newer = ada.submit_now("01_data", notebook_with("ada-9"))
    service, _, grading = served(exchange=exchange)
    entries = wait_published(service, [older, newer])
    assert grading.calls == [("01_data", "ada-9")]
    assert entries[older].outcome == "replaced" and entries[older].by == newer


def test_students_take_turns(served, tmp_path):
    service, exchange, grading = served()
    ada, bob = exchange.student("ada", tmp_path / "home"), exchange.student("bob", tmp_path / "home")
    grading.hold()
    ids = [ada.submit_now("01_data", notebook_with("ada-1"))]
    assert grading.started.wait(10)
    ids += [
        ada.submit_now(stage, notebook_with(f"ada-{n}")) for n, stage in ((2, "02_embedding"), (3, "03_keys_values"))
    ]
    wait_until(lambda: service.queue.waiting() == 2)
    ids.append(bob.submit_now("01_data", notebook_with("bob-1")))  # last in, yet second to be graded
    wait_until(lambda: service.queue.waiting() == 3)
    grading.release()
    wait_published(service, ids)
    assert [marker for _, marker in grading.calls] == ["ada-1", "ada-2", "bob-1", "ada-3"]


def test_hourly_limit_per_student_with_a_page_and_a_log_line(served, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="autograder.service")
    service, exchange, grading = served(per_hour=2)
    ada, bob = exchange.student("ada", tmp_path / "home"), exchange.student("bob", tmp_path / "home")
    ids = []
    for n, stage in enumerate(STAGES):
        ids.append(ada.submit_now(stage, notebook_with(f"ada-{n}")))
        wait_published(service, ids[-1:])
    other = bob.submit_now("01_data", notebook_with("bob-5"))
    entries = wait_published(service, [*ids, other])
    assert [m for _, m in grading.calls] == ["ada-0", "ada-1", "bob-5"]  # bob is not limited by ada
    assert entries[ids[2]].outcome == "rate_limited"
    page = page_of(ada, ids[2], "03_keys_values")
    assert "limited to 2 graded submissions per student and hour" in page and "Submit again after" in page
    assert any("reached the limit of 2 graded submissions per hour" in r.getMessage() for r in caplog.records)


def test_instructor_turns_a_stage_off_and_on(served, tmp_path, capsys):
    service, exchange, grading = served()
    course = str(tmp_path / "course")
    ada = exchange.student("ada", tmp_path / "home")
    assert autograder_main(["serve-control", "--course", course, "disable", "01_data"]) == 0
    assert "01_data: automatic grading off" in capsys.readouterr().out
    late = ada.submit_now("01_data", notebook_with("ada-4"))
    other = ada.submit_now("02_embedding", notebook_with("ada-6"))
    entries = wait_published(service, [late, other])
    assert entries[late].outcome == "disabled" and grading.calls == [("02_embedding", "ada-6")]
    assert "automatic grading is closed" in page_of(ada, late, "01_data")
    assert autograder_main(["serve-control", "--course", course, "status"]) == 0
    assert "01_data: automatic grading off since" in capsys.readouterr().out
    assert autograder_main(["serve-control", "--course", course, "enable", "01_data"]) == 0
    capsys.readouterr()
    again = ada.submit_now("01_data", notebook_with("ada-5"))
    wait_published(service, [again])
    assert grading.calls[-1] == ("01_data", "ada-5")
    assert autograder_main(["serve-control", "--course", course, "disable", "99_nothing"]) == 2
    assert "unknown stage '99_nothing'" in capsys.readouterr().err


def test_a_second_service_on_the_same_course_refuses_to_start(served, tmp_path):
    from autograder.service.server import ServiceError

    service, _, grading = served()
    with pytest.raises(ServiceError, match="another grading service"):
        Service(service.settings, grade=grading).run()


def test_fair_queue_replaces_in_place_and_keeps_the_newer():
    queue = FairQueue()
    a1 = parse_name("a+01_data+2026-01-01 10:00:00.000001 UTC+x")
    a2 = parse_name("a+01_data+2026-01-01 10:00:05.000001 UTC+y")
    b1 = parse_name("b+01_data+2026-01-01 10:00:01.000001 UTC+z")
    assert queue.put(a1) is None and queue.put(b1) is None
    assert queue.put(a2) is a1  # the newer takes the older's place
    assert queue.put(a1) is a1  # an older one arriving later is not queued
    assert [queue.get(0), queue.get(0), queue.get(0)] == [a2, b1, None]


def test_journal_ignores_a_line_torn_by_a_crash(tmp_path):
    journal = Journal(tmp_path / "journal.jsonl").open()
    journal.append("s1", "queued", student="a", stage="01_data", timestamp="t", seen=1.0)
    journal.append("s1", "graded", outcome="graded")
    journal.close()
    with (tmp_path / "journal.jsonl").open("a") as stream:
        stream.write('{"id": "s1", "state": "publi')  # killed while writing
    entries = Journal(tmp_path / "journal.jsonl").load()
    assert entries["s1"].states == ["queued", "graded"] and entries["s1"].outcome == "graded"
    journal = Journal(tmp_path / "journal.jsonl").open()  # the next line starts on its own
    journal.append("s1", "published")
    journal.close()
    assert Journal(tmp_path / "journal.jsonl").load()["s1"].state == "published"


def test_summary_shows_the_first_failing_message_never_hidden_test_code():
    hidden_code = "assert secret_reference_value == 42  # hidden"
    cells = [
        {
            "cell_type": "code",
            "source": "assert True",
            "metadata": {"nbgrader": {"grade_id": "test_visible"}},
            "outputs": [],
        },
        {
            "cell_type": "code",
            "source": f"### BEGIN HIDDEN TESTS\n{hidden_code}\n### END HIDDEN TESTS",
            "metadata": {"nbgrader": {"grade_id": "test_hidden"}},
            "outputs": [
                {
                    "output_type": "error",
                    "ename": "AssertionError",
                    "evalue": "\x1b[0;31mthe scores must be divided by sqrt(d)\x1b[0m",
                    "traceback": [f"----> 2 {hidden_code}"],
                }
            ],
        },
    ]
    result = GradeResult(
        "04_einsum_attention",
        Status.GRADED,
        2.0,
        5.0,
        [
            Check("test_visible", "test", 2.0, 2.0, "passed"),
            Check("test_hidden", "hidden test", 0.0, 3.0, "failed"),
            Check("answer", "written answer", None, 1.0, "graded by hand"),
        ],
        feedback_html="<!DOCTYPE html><html><head></head><body class='x'><div>nbgrader's page</div></body></html>",
        autograded_notebook=json.dumps({"cells": cells}).encode(),
    )
    assert pages.first_failure(result) == ("test_hidden", "AssertionError: the scores must be divided by sqrt(d)")
    plain, page = pages.feedback_page(result, parse_timestamp("2026-12-01 10:00:00.000000 UTC"))
    assert "secret_reference_value" not in page and "-->" not in page
    assert page.index("autograder-summary") < page.index("nbgrader's page")  # the summary comes first
    assert "2 of 5 points" in page and "1 written answer is graded by your instructor" in page
    assert plain.endswith("first failing check test_hidden: AssertionError: the scores must be divided by sqrt(d)")


def wait_until(condition, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.02)
    return True


def test_the_hub_service_entry_runs_the_documented_command(tmp_path):
    import argparse

    from autograder.service.cli import add_serve_parsers
    from autograder.service.hub import grading_service

    entry = grading_service(
        tmp_path / "course", tmp_path / "exchange", user="instructor", extra=["--max-per-hour", "30"]
    )
    python, *arguments = entry["command"]
    assert arguments[:3] == ["-m", "autograder", "serve"] and os.access(python, os.X_OK)
    parser = argparse.ArgumentParser()
    add_serve_parsers(parser.add_subparsers(dest="command"))
    args = parser.parse_args(arguments[2:])
    assert (args.course, args.exchange, args.max_per_hour) == (tmp_path / "course", tmp_path / "exchange", 30)
    assert entry["user"] == "instructor" and "url" not in entry  # no web page: feedback goes through the exchange
    service = pytest.importorskip("jupyterhub.services.service").Service()
    for key, value in entry.items():  # what JupyterHub does with each entry of c.JupyterHub.services
        assert key in service.traits(), f"JupyterHub has no service field {key!r}"
        setattr(service, key, value)  # a wrong type raises TraitError
    assert service.managed


def test_serve_refuses_bad_arguments_with_one_line(tmp_path, capsys):
    code = autograder_main(["serve", "--course", str(tmp_path / "course"), "--exchange", str(tmp_path / "nowhere")])
    assert code == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f"error: --exchange {tmp_path / 'nowhere'} is not a folder (nbgrader's Exchange.root must exist)"
    ]
    assert not (tmp_path / "course").exists()  # nothing made


def test_a_submission_without_the_stage_notebook_says_what_to_name_it(served, tmp_path):
    service, exchange, grading = served()
    ada = exchange.student("ada", tmp_path / "home")
    (ada.home / "01_data").mkdir(parents=True)
    (ada.home / "01_data" / "my_copy.ipynb").write_text(nbformat.writes(notebook_with("ada-3")))
    key = ada.submit_now("01_data")
    entries = wait_published(service, [key])
    assert grading.calls == [("01_data", None)] and entries[key].status == "missing"
    assert "no notebook named 01_data.ipynb, so nothing was graded" in page_of(ada, key, "my_copy")


def test_a_failure_while_grading_is_tried_again(served, tmp_path, caplog):
    service, exchange, grading = served(retry=0.5)
    grading.failures = 1  # the disk is full once
    ada = exchange.student("ada", tmp_path / "home")
    key = ada.submit_now("01_data", notebook_with("ada-8"))
    entries = wait_published(service, [key])
    assert grading.failures == 0 and grading.calls == [("01_data", "ada-8")]
    assert entries[key].states.count("graded") == 1 and "8 of 10 points" in page_of(ada, key, "01_data")
    assert any("failed; tried again in 0 s" in r.getMessage() for r in caplog.records)


def test_the_hourly_limit_keeps_the_oldest_of_submissions_found_at_once(served, tmp_path):
    exchange = Exchange(tmp_path / "exchange", STAGES)
    ada = exchange.student("ada", tmp_path / "home")
    ids = [ada.submit_now(stage, notebook_with(f"ada-{n}")) for n, stage in enumerate(STAGES)]
    service, _, grading = served(exchange=exchange, per_hour=2)
    entries = wait_published(service, ids)
    assert [entries[i].outcome for i in ids] == ["graded", "graded", "rate_limited"]
    assert [m for _, m in grading.calls] == ["ada-0", "ada-1"]
