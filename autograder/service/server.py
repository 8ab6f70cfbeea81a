"""The grading service: watch the exchange, grade each new submission, publish its feedback.

    service = Service(Settings(course_root, exchange))
    service.run()            # until service.stop() (SIGTERM / Ctrl-C in `python -m autograder serve`)

One thread scans EXCHANGE/COURSE_ID/inbound every `poll` seconds; `workers` threads take submissions from
the fair queue and call `grade_notebook` on one Grader (started by `run`, in its thread: the sandbox and the
warm servers, as the class command). Each submission goes queued -> graded -> published in the journal
(journal.py), so a restart after a crash finishes exactly what was left. Rules, in the order they apply:

- a name that is not a course stage is ignored (another assignment of the course: graded by hand);
- the latest submission of a student and stage counts (nbgrader's timestamp): a newer one replaces one still
  waiting, an older one arriving late is not graded, and the gradebook only ever moves to a newer one;
- a student gets at most `per_hour` submissions graded in any hour (0: no limit); beyond it the student's page
  says when to submit again;
- a stage the instructor turned off (control.py) is not graded.
Every submission gets a page in the exchange, graded or not, so the student always learns what happened.
"""

import fcntl
import json
import logging
import os
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from autograder.course import STAGES
from autograder.grading.batch import default_jobs
from autograder.grading.collect import MAX_MEMBER_BYTES as MAX_NOTEBOOK_BYTES
from autograder.grading.result import GradeResult
from autograder.isolation.limits import Limits
from autograder.service import pages
from autograder.service.control import Control, service_folder
from autograder.service.course_book import CourseBook
from autograder.service.exchange import (
    Submission,
    course_paths,
    ensure_feedback_folder,
    feedback_file,
    list_inbound,
    notebook_ids,
    parse_name,
    read_secret,
    write_durably,
)
from autograder.service.fair_queue import FairQueue
from autograder.service.journal import Entry, Journal

log = logging.getLogger("autograder.service")
DEFAULT_COURSE_ID = "qkv-attention"  # autograder/nbgrader_config.py
DEFAULT_PER_HOUR = 20
HOUR = 3600.0
UNFINISHED_WARNING = 60.0  # seconds after which a submission folder without its secret is reported
# outcomes of the "graded" step; COUNTED take a place in the hourly limit
GRADED, REPLACED, RATE_LIMITED, DISABLED, IGNORED = "graded", "replaced", "rate_limited", "disabled", "ignored"


class ServiceError(RuntimeError):
    """The service cannot start (a one-line message)."""


@dataclass
class Settings:
    course_root: Path
    exchange: Path
    course_id: str = DEFAULT_COURSE_ID
    stages: list[str] = field(default_factory=lambda: list(STAGES))
    workers: int = 0  # 0: the class command's default (CPUs + 1, at most one per free GB)
    per_hour: int = DEFAULT_PER_HOUR
    poll: float = 0.25  # seconds between two looks at the inbound folder
    retry: float = 30.0  # seconds before a failed grading or publishing is tried again
    limits: Limits = field(default_factory=Limits)
    sandbox: bool = True
    require_sandbox: bool = False
    warm: bool = True


class Service:
    def __init__(self, settings: Settings, grade=None):
        """grade: a function (notebook bytes or None, stage, notes) -> GradeResult instead of the Grader (tests
        of the service's rules); None: grade_notebook on a Grader started by run()."""
        self.settings = settings
        self.course_root = Path(settings.course_root).resolve()
        self.folder = service_folder(self.course_root)
        self.results = self.folder / "results"
        self.inbound, self.feedback = course_paths(Path(settings.exchange).resolve(), settings.course_id)
        self.journal = Journal(self.folder / "journal.jsonl")
        self.control = Control(self.course_root)
        self.book = CourseBook(self.course_root, settings.course_id)
        self.queue = FairQueue()
        self.entries: dict[str, Entry] = {}
        self.latest: dict[tuple[str, str], tuple[datetime, GradeResult]] = {}  # what the gradebook holds
        self._grade = grade
        self._lock = threading.RLock()  # entries, latest
        self._book_lock = threading.Lock()  # gradebook and tables: one writer
        self._unready: dict[str, float] = {}  # folders still being written: first seen
        self._skipped: set[str] = set()  # names nbgrader does not write
        self._retry: set[str] = set()  # grading or publishing failed (a full disk...): try again
        self._stop = threading.Event()
        self._kill_gradings = False
        self.ready = threading.Event()
        self._lock_file = None

    # -- life cycle --------------------------------------------------------------------------------------

    def stop(self, kill_gradings: bool = False) -> None:
        """Stop serving. kill_gradings: kill the gradings under way (they stay `queued` and are done again at
        the next start) instead of letting them finish; only when this process ends next (it kills every
        worker this process starts from then on)."""
        self._kill_gradings = self._kill_gradings or kill_gradings
        self._stop.set()

    def run(self) -> None:
        """Start the grader, finish what the journal left, then serve until stop(). Blocks."""
        self._take_lock()
        grader = None
        try:
            if self._grade is None:
                from autograder.grading.core import Grader, grade_notebook

                grader = Grader(
                    self.settings.stages,
                    sandbox=self.settings.sandbox,
                    require_sandbox=self.settings.require_sandbox,
                    warm=self.settings.warm,
                )
                grader.start()  # from this thread: the servers die with the thread that started them
                log.info(grader.sandbox_line)
                log.info(grader.warm_line)
                limits = self.settings.limits
                self._grade = lambda data, stage, notes: grade_notebook(data, stage, limits, grader=grader, notes=notes)
                self.book.prepare(grader.template, self.settings.stages)
            self.results.mkdir(parents=True, exist_ok=True)
            ensure_feedback_folder(self.feedback)
            self.journal.open()
            self._recover()
            workers = self.settings.workers or default_jobs()
            threads = [threading.Thread(target=self._work, name=f"grading-{n}", daemon=True) for n in range(workers)]
            for thread in threads:
                thread.start()
            limit = (
                f"at most {self.settings.per_hour} graded submissions per student and hour"
                if self.settings.per_hour
                else "no hourly limit per student"
            )
            log.info(
                "ready: watching %s for %s with %d worker(s); %s; feedback to %s; gradebook and grades.csv in %s",
                self.inbound,
                ", ".join(self.settings.stages),
                workers,
                limit,
                self.feedback,
                self.course_root,
            )
            self.ready.set()
            last_retry = time.monotonic()
            while not self._stop.is_set():
                self.scan()
                if self._retry and time.monotonic() - last_retry > self.settings.retry:
                    self._try_again()
                    last_retry = time.monotonic()
                self._stop.wait(self.settings.poll)
            log.info("stopping: %d submission(s) waiting, graded after the next start", self.queue.waiting())
            self.queue.close()
            if grader is not None and self._kill_gradings:
                from autograder.isolation.processes import stop_all_workers

                stop_all_workers()  # unfinished gradings stay `queued` in the journal
            for thread in threads:
                thread.join()
        finally:
            self.queue.close()
            if grader is not None:
                grader.close()
            self.journal.close()
            if self._lock_file is not None:
                self._lock_file.close()

    def _take_lock(self) -> None:
        """One service per course folder: a second one would grade everything twice."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self._lock_file = (self.folder / "service.lock").open("a+")
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock_file.seek(0)
            other = self._lock_file.read().strip() or "unknown"
            self._lock_file.close()
            self._lock_file = None
            raise ServiceError(f"another grading service (pid {other}) already serves {self.course_root}") from None
        self._lock_file.seek(0)
        self._lock_file.truncate()
        self._lock_file.write(f"{os.getpid()}\n")
        self._lock_file.flush()

    # -- finding submissions -----------------------------------------------------------------------------

    def scan(self) -> int:
        """Look at the inbound once; journal and queue every complete new submission. Returns how many."""
        now = time.time()
        found = []
        for name in list_inbound(self.inbound):
            if name in self.entries or name in self._skipped:
                continue
            submission = parse_name(name)
            if submission is None:
                self._skipped.add(name)
                log.warning("ignored %s in the inbound: not a folder name nbgrader submit writes", name)
                continue
            if read_secret(self.inbound / name) is None:  # nbgrader submit writes the secret last
                first = self._unready.setdefault(name, now)
                if now - first > UNFINISHED_WARNING and first != -1:
                    log.warning(
                        "%s has no submission_secret.txt after %.0f s: waiting for it (an nbgrader "
                        "older than 0.8 is not supported)",
                        name,
                        now - first,
                    )
                    self._unready[name] = -1
                continue
            self._unready.pop(name, None)
            found.append(submission)
        found.sort(key=lambda s: s.submitted_at)
        for s in found:  # all journaled first: of two found at once, the older is not graded
            self.journal.append(s.id, "queued", student=s.student, stage=s.stage, timestamp=s.timestamp, seen=now)
            with self._lock:
                self.entries[s.id] = Entry(
                    s.id, dict(student=s.student, stage=s.stage, timestamp=s.timestamp, seen=now), ["queued"]
                )
        for s in found:
            if s.stage not in self.settings.stages:
                self._finish(s, IGNORED)
                log.info("%s: %s is not a stage this service grades; left for the instructor", s.id, s.stage)
            else:
                self._admit(s)
        return len(found)

    def _admit(self, s: Submission) -> None:
        """Decide what happens to a queued submission (new, or left queued by a crash)."""
        newer = self._newer_accepted(s)
        if newer is not None:
            self._finish(s, REPLACED, by=newer)
            return
        if self.control.is_disabled(s.stage):
            self._finish(s, DISABLED)
            return
        counted = self._counted_in_hour(s)
        if self.settings.per_hour and len(counted) >= self.settings.per_hour:
            again = min(counted) + HOUR
            log.warning(
                "%s: %s reached the limit of %d graded submissions per hour; not graded (next at %s)",
                s.id,
                s.student,
                self.settings.per_hour,
                _clock(again),
            )
            self._finish(s, RATE_LIMITED, again=again)
            return
        with self._lock:
            self.entries[s.id].fields["admitted"] = True  # in memory only: counts in the hourly limit
        replaced = self.queue.put(s)
        if replaced is not None:
            self._finish(replaced, REPLACED, by=s.id if replaced is not s else None)

    def _newer_accepted(self, s: Submission) -> str | None:
        """The id of a newer submission of the same student and stage that is queued, graded or counts."""
        with self._lock:
            for entry in self.entries.values():
                if (
                    entry.id != s.id
                    and entry.student == s.student
                    and entry.stage == s.stage
                    and entry.fields.get("outcome") in (None, GRADED)
                    and _submitted(entry) > s.submitted_at
                ):
                    return entry.id
        return None

    def _counted_in_hour(self, s: Submission) -> list[float]:
        """When the student's submissions of the last hour that are graded or admitted to the queue arrived
        (not those found in the same look and not decided yet)."""
        since = self.entries[s.id].seen - HOUR
        with self._lock:
            return [
                e.seen
                for e in self.entries.values()
                if e.id != s.id
                and e.student == s.student
                and e.seen > since
                and (
                    e.fields.get("outcome") == GRADED or (e.fields.get("outcome") is None and e.fields.get("admitted"))
                )
            ]

    # -- grading -----------------------------------------------------------------------------------------

    def _work(self) -> None:
        while not self._stop.is_set():
            submission = self.queue.get(timeout=0.5)
            if submission is None or self._stop.is_set():
                continue
            try:
                self._grade_one(submission)
            except Exception:  # a full disk, say: the journal keeps it; publishing is tried again
                log.exception(
                    "%s: failed; tried again in %.0f s and at the next start", submission.id, self.settings.retry
                )
                with self._lock:
                    self._retry.add(submission.id)

    def _grade_one(self, s: Submission) -> None:
        if self.control.is_disabled(s.stage):
            self._finish(s, DISABLED)
            return
        folder = self.inbound / s.id
        notebook = folder / f"{s.stage}.ipynb"
        data, notes = None, ()
        if notebook.is_file():
            try:
                if notebook.stat().st_size > MAX_NOTEBOOK_BYTES:
                    raise OSError(f"it is larger than {MAX_NOTEBOOK_BYTES // 2**20} MB")
                data = notebook.read_bytes()
            except OSError as error:
                data, notes = b"", (f"could not read the file: {error.strerror or error}",)
        result = self._grade(data, s.stage, notes)
        if self._stop.is_set() and self._kill_gradings:
            return  # killed by the stop: it stays `queued`, graded at the next start
        result_file = self.results / f"{re.sub(r'[^A-Za-z0-9_.+-]', '_', s.id)}.json"  # ids hold spaces
        write_durably(result_file, json.dumps(result.to_dict()).encode("utf-8"), mode=0o600)
        self._finish(
            s,
            GRADED,
            score=result.score,
            max_score=result.max_score,
            status=str(result.status),
            result_file=result_file.name,
            result=result,
            notebook=data,
        )

    def _finish(
        self, s: Submission, outcome: str, result: GradeResult | None = None, notebook: bytes | None = None, **fields
    ) -> None:
        """Journal the outcome, then publish."""
        fields = {k: v for k, v in fields.items() if v is not None}
        self.journal.append(s.id, "graded", outcome=outcome, **fields)
        with self._lock:
            entry = self.entries[s.id]
            entry.fields.update(outcome=outcome, **fields)
            entry.states.append("graded")
        self._publish(entry, result, notebook)

    def _try_again(self) -> None:
        """Submissions whose grading or publishing failed: publish what was graded, queue the rest again."""
        with self._lock:
            keys, self._retry = list(self._retry), set()
        for key in keys:
            entry = self.entries[key]
            try:
                if entry.state == "graded":
                    self._publish(entry)
                elif entry.state == "queued":
                    self._admit(_submission(entry))
            except Exception:
                log.exception("%s: failed again; tried again in %.0f s and at the next start", key, self.settings.retry)
                with self._lock:
                    self._retry.add(key)

    # -- publishing --------------------------------------------------------------------------------------

    def _publish(self, entry: Entry, result: GradeResult | None = None, notebook: bytes | None = None) -> None:
        """The student's pages in the exchange; for a graded submission that is the latest, the course folder.
        Safe to repeat: every file is replaced by the same content."""
        s = _submission(entry)
        outcome = entry.outcome
        folder = self.inbound / s.id
        if outcome == IGNORED:
            self._published(entry, "")
            return
        if outcome == GRADED and result is None:
            result = GradeResult.from_dict(json.loads((self.results / entry.result_file).read_text("utf-8")))
        secret = read_secret(folder)
        plain, page = self._page(entry, s, result)
        if secret is None:
            log.warning("%s: the submission folder is gone; its feedback cannot be published", s.id)
        else:
            for notebook_id in notebook_ids(folder):
                text = page if notebook_id == s.stage or outcome != GRADED else self._other_page(s, result, notebook_id)
                write_durably(feedback_file(self.feedback, secret, notebook_id), text.encode("utf-8"))
        if outcome == GRADED:
            if notebook is None and (folder / f"{s.stage}.ipynb").is_file():
                notebook = (folder / f"{s.stage}.ipynb").read_bytes()
            self._record(s, result, secret or "", notebook, page)
        else:
            self._write_tables()
        self._published(entry, plain)

    def _published(self, entry: Entry, plain: str) -> None:
        self.journal.append(entry.id, "published")
        with self._lock:
            entry.states.append("published")
        if plain:
            log.info("%s: %s (feedback %.1f s after it arrived)", entry.id, plain, time.time() - entry.seen)

    def _page(self, entry: Entry, s: Submission, result: GradeResult | None) -> tuple[str, str]:
        """(log line, page) for the submission's own notebook."""
        submitted = pages.when(s.submitted_at)
        outcome = entry.outcome
        if outcome == GRADED:
            return pages.feedback_page(result, s.submitted_at)
        if outcome == REPLACED:
            newer = self.entries.get(entry.fields.get("by") or "")
            newer_text = f"at {pages.when(_submitted(newer))} " if newer is not None else ""
            return (
                "not graded: replaced by a newer submission",
                pages.short_page(
                    s.stage,
                    f"{s.stage}: replaced by your newer submission",
                    [
                        f"You submitted {s.stage} again {newer_text}before this submission ({submitted}) was "
                        "graded. Only your latest submission counts, so this one was not graded.",
                        "Fetch feedback again to see the feedback of your latest submission.",
                    ],
                ),
            )
        if outcome == RATE_LIMITED:
            again = pages.when(datetime.fromtimestamp(entry.again, UTC))
            limit = self.settings.per_hour
            return (
                f"not graded: {s.student} reached {limit} submissions per hour",
                pages.short_page(
                    s.stage,
                    f"{s.stage}: not graded, the hourly limit is reached",
                    [
                        f"Automatic feedback is limited to {limit} graded submissions per student and hour, so "
                        "that everyone in the class gets theirs quickly. You have reached it, so this submission "
                        f"({submitted}) was not graded.",
                        f"Submit again after {again} to get feedback. Until then your grade is the one of your "
                        "latest graded submission. Meanwhile, the checks in the notebook (Validate) tell you a "
                        "lot.",
                    ],
                ),
            )
        if outcome == DISABLED:
            return (
                "not graded: automatic grading of the stage is turned off",
                pages.short_page(
                    s.stage,
                    f"{s.stage}: automatic grading is closed",
                    [
                        f"Your instructor has turned off automatic grading of {s.stage} (for example after the "
                        f"deadline). This submission ({submitted}) was received but not graded automatically.",
                        "Your instructor decides how it counts; your latest graded submission keeps its grade.",
                    ],
                ),
            )
        raise ValueError(f"no page for the outcome {outcome!r}")

    def _other_page(self, s: Submission, result: GradeResult, notebook_id: str) -> str:
        """The page of a notebook in the submission that is not the stage's."""
        if result.status == "missing":
            return pages.short_page(
                s.stage,
                f"{s.stage}: nothing graded",
                [
                    f"Your submission has no notebook named {s.stage}.ipynb, so nothing was graded "
                    f"({notebook_id}.ipynb is not the stage's notebook).",
                    f"Work in {s.stage}.ipynb as fetched (or rename your notebook to {s.stage}.ipynb) "
                    "and submit again.",
                ],
            )
        return pages.short_page(
            s.stage,
            f"{notebook_id}: not graded",
            [
                f"Only {s.stage}.ipynb is graded in {s.stage}; this notebook is kept with your submission.",
                f"Result of {s.stage}.ipynb: {_number(result.score)} of {_number(result.max_score)} points; "
                "its feedback has the details.",
            ],
        )

    def _record(self, s: Submission, result: GradeResult, secret: str, notebook: bytes | None, page: str) -> None:
        """The course folder, if this is the newest graded submission of the student and stage."""
        key = (s.student, s.stage)
        with self._book_lock:
            with self._lock:
                current = self.latest.get(key)
                newest = current is None or current[0] <= s.submitted_at
                if newest:
                    self.latest[key] = (s.submitted_at, _without_pages(result))
            if newest:
                self.book.record(s.student, result, s.timestamp, secret, notebook, page)
            self._write_tables(locked=True)

    def _write_tables(self, locked: bool = False) -> None:
        if not locked:
            with self._book_lock:
                return self._write_tables(locked=True)
        with self._lock:
            latest = {key: result for key, (_, result) in sorted(self.latest.items())}
            inventory = [
                (e.student, e.id, _what(e))
                for e in sorted(self.entries.values(), key=lambda e: (e.student, e.id))
                if e.fields.get("outcome") != IGNORED
            ]
        self.book.write_tables(latest, inventory)

    # -- after a crash -----------------------------------------------------------------------------------

    def _recover(self) -> None:
        """Rebuild the state from the journal; publish what was graded, queue what was waiting."""
        self.entries = self.journal.load()
        unpublished, waiting = [], []
        for entry in self.entries.values():
            if entry.state == "published" and entry.fields.get("outcome") == GRADED:
                self._remember_latest(entry)
            elif entry.state == "graded":
                unpublished.append(entry)
            elif entry.state == "queued":
                waiting.append(entry)
        if unpublished or waiting:
            log.info("recovering: %d graded submission(s) to publish, %d to grade", len(unpublished), len(waiting))
        for entry in unpublished:
            self._publish(entry)
        for entry in sorted(waiting, key=_submitted):
            s = _submission(entry)
            if s.stage not in self.settings.stages:
                self._finish(s, IGNORED)
            else:
                self._admit(s)
        if not (unpublished or waiting):
            self._write_tables()

    def _remember_latest(self, entry: Entry) -> None:
        key, submitted = (entry.student, entry.stage), _submitted(entry)
        current = self.latest.get(key)
        if current is not None and current[0] > submitted:
            return
        try:
            data = json.loads((self.results / entry.result_file).read_text("utf-8"))
        except (OSError, ValueError) as error:
            log.warning("%s: its result file cannot be read (%s); grades.csv leaves it out", entry.id, error)
            return
        self.latest[key] = (submitted, _without_pages(GradeResult.from_dict(data)))


def _submission(entry: Entry) -> Submission:
    return Submission(entry.id, entry.student, entry.stage, entry.timestamp)


def _submitted(entry: Entry) -> datetime:
    return _submission(entry).submitted_at


def _without_pages(result: GradeResult) -> GradeResult:
    """What the tables need of a result (the pages and notebook are on disk already)."""
    return GradeResult(
        result.stage, result.status, result.score, result.max_score, result.tests, result.notes, seconds=result.seconds
    )


def _number(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _clock(when: float) -> str:
    return time.strftime("%H:%M:%S UTC", time.gmtime(when))


def _what(entry: Entry) -> str:
    """What the service did with a submission, for collected.csv."""
    outcome = entry.fields.get("outcome")
    if outcome is None:
        return "waiting to be graded"
    if outcome == GRADED:
        return f"graded: {_number(entry.score)}/{_number(entry.max_score)} ({entry.status})"
    return {
        REPLACED: "not graded: replaced by a newer submission",
        RATE_LIMITED: "not graded: hourly limit of the student reached",
        DISABLED: "not graded: automatic grading of the stage turned off",
    }.get(outcome, outcome)
