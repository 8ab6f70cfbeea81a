"""The service's memory on disk: one JSON line per step of a submission, fsynced before the step counts.

    {"id": ..., "state": "queued", "student": ..., "stage": ..., "timestamp": ..., "seen": unix time}
    {"id": ..., "state": "graded", "outcome": "graded" | "replaced" | "rate_limited" | "disabled" | "ignored",
     ...}                                   (for "graded": the result was written to results/<key>.json first)
    {"id": ..., "state": "published"}       (the student's pages are in the exchange, the gradebook updated)

A submission the journal does not know is new; `queued` is graded again after a crash (grading is safe to
repeat: nothing is kept of an unfinished run); `graded` is published again (publishing only replaces files
with the same content). So a service killed at any instant loses no submission and counts each once.
A torn last line (killed while writing it) is ignored: that step had not happened.
"""

import json
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

from autograder.service.exchange import sync_folder

STATES = ("queued", "graded", "published")


@dataclass
class Entry:
    """What the journal says about one submission: the fields of all its lines, merged, and every state."""

    id: str
    fields: dict = field(default_factory=dict)
    states: list[str] = field(default_factory=list)

    @property
    def state(self) -> str:
        return self.states[-1]

    def __getattr__(self, name):
        try:
            return self.__dict__["fields"][name]
        except KeyError:
            raise AttributeError(name) from None


class Journal:
    def __init__(self, path: Path):
        self.path = Path(path)
        self._lock = threading.Lock()
        self._stream = None

    def load(self) -> dict[str, Entry]:
        """Every submission the journal knows, by id, in the order first seen."""
        entries: dict[str, Entry] = {}
        if not self.path.exists():
            return entries
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(line)
                key, state = record.pop("id"), record.pop("state")
            except (ValueError, KeyError, AttributeError):
                continue  # a line torn by a crash: that step did not happen
            entry = entries.setdefault(key, Entry(key))
            entry.fields.update(record)
            entry.states.append(state)
        return entries

    def open(self) -> "Journal":
        new = not self.path.exists()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not new and self.path.stat().st_size and not self.path.read_bytes().endswith(b"\n"):
            with self.path.open("ab") as stream:  # end a torn line, so the next record starts on its own
                stream.write(b"\n")
        self._stream = self.path.open("a", encoding="utf-8")
        if new:
            sync_folder(self.path.parent)
        return self

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None

    def append(self, key: str, state: str, **fields) -> None:
        """Record a step; it is on disk when this returns."""
        if state not in STATES:
            raise ValueError(f"unknown state {state!r}")
        line = json.dumps({"id": key, "state": state, **fields}, sort_keys=True) + "\n"
        with self._lock:
            self._stream.write(line)
            self._stream.flush()
            os.fsync(self._stream.fileno())
