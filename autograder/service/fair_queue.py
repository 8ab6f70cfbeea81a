"""The queue of submissions waiting to be graded: fair between students, the latest one per stage.

Students take turns (round-robin): a student who submits ten times does not delay the next student more
than one notebook. A student has at most one waiting submission per stage: a newer one takes the place of
the older (which is then reported as replaced, never graded).
"""

import threading
from collections import OrderedDict, deque

from autograder.service.exchange import Submission


class FairQueue:
    def __init__(self):
        self._waiting: dict[str, OrderedDict[str, Submission]] = {}  # student -> stage -> submission
        self._turns: deque[str] = deque()  # students with something waiting, next first
        self._ready = threading.Condition()
        self._closed = False

    def put(self, submission: Submission) -> Submission | None:
        """Queue `submission`; returns the submission that will not be graded because of it: the older one of
        the same student and stage that was waiting, or `submission` itself if a newer one is waiting."""
        with self._ready:
            stages = self._waiting.setdefault(submission.student, OrderedDict())
            older = stages.get(submission.stage)
            if older is not None and older.submitted_at > submission.submitted_at:
                return submission
            stages[submission.stage] = submission  # keeps the stage's place in the student's order
            if submission.student not in self._turns:
                self._turns.append(submission.student)
            self._ready.notify()
            return older

    def get(self, timeout: float | None = None) -> Submission | None:
        """The next submission (the next student's oldest waiting stage); None on timeout or when closed."""
        with self._ready:
            if not self._ready.wait_for(lambda: self._turns or self._closed, timeout):
                return None
            if self._closed and not self._turns:
                return None
            student = self._turns.popleft()
            stages = self._waiting[student]
            _, submission = stages.popitem(last=False)
            if stages:
                self._turns.append(student)
            else:
                del self._waiting[student]
            return submission

    def waiting(self) -> int:
        with self._ready:
            return sum(len(stages) for stages in self._waiting.values())

    def close(self) -> None:
        """Wake every waiting `get` (they return None once the queue is empty)."""
        with self._ready:
            self._closed = True
            self._ready.notify_all()
