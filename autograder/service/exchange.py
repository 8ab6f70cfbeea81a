"""nbgrader's exchange as the service sees it (nbgrader/exchange/default: submit.py, fetch_feedback.py).

`nbgrader submit` copies the student's assignment folder to

    EXCHANGE/COURSE_ID/inbound/<student>+<assignment>+<timestamp>+<random>/   *.ipynb, timestamp.txt,
                                                                             submission_secret.txt (last)

and keeps a copy in the student's own cache. `nbgrader fetch_feedback` looks, for every notebook of every
submission in that cache, for EXCHANGE/COURSE_ID/feedback/<md5(secret + notebook_id)>.html (nbgrader's
`notebook_hash`), and copies it next to the student's assignment as feedback/<timestamp>/<notebook_id>.html.
Only the student who submitted knows the secret, so only they find their page.
"""

import os
import re
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

SECRET_FILE = "submission_secret.txt"
TIMESTAMP_FILE = "timestamp.txt"
SECRET = re.compile(r"[0-9a-f]{128}")  # secrets.token_hex(64), written by nbgrader submit after the files


@dataclass(frozen=True)
class Submission:
    """One submission folder in the inbound: `id` is its name, unique in the exchange."""

    id: str
    student: str
    stage: str  # nbgrader's assignment id
    timestamp: str  # nbgrader's timestamp text, e.g. "2026-12-01 17:30:02.123456 UTC"

    @property
    def submitted_at(self) -> datetime:
        return parse_timestamp(self.timestamp)

    def folder(self, inbound: Path) -> Path:
        return inbound / self.id


def parse_timestamp(text: str) -> datetime:
    """nbgrader's timestamp as an aware datetime (UTC); an unreadable one sorts first."""
    from nbgrader.utils import parse_utc

    try:
        return parse_utc(text).replace(tzinfo=UTC)
    except (ValueError, TypeError, OverflowError):
        return datetime.min.replace(tzinfo=UTC)


def parse_name(name: str) -> Submission | None:
    """A Submission from an inbound folder name, or None for a name nbgrader does not write."""
    parts = name.split("+")
    if len(parts) not in (3, 4) or not all(parts[:3]):
        return None
    return Submission(name, parts[0], parts[1], parts[2])


def course_paths(exchange: Path, course_id: str) -> tuple[Path, Path]:
    """(inbound, feedback) folders of the course in the exchange."""
    course = Path(exchange) / course_id
    return course / "inbound", course / "feedback"


def list_inbound(inbound: Path) -> list[str]:
    """Names of the entries of the inbound folder (empty when it does not exist yet)."""
    try:
        return [entry.name for entry in os.scandir(inbound) if entry.is_dir(follow_symlinks=False)]
    except FileNotFoundError:
        return []


def read_secret(folder: Path) -> str | None:
    """The submission's secret once `nbgrader submit` has finished writing the folder, else None."""
    try:
        text = (folder / SECRET_FILE).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return text if SECRET.fullmatch(text) else None


def notebook_ids(folder: Path) -> list[str]:
    """The notebooks at the top of the submission, as fetch_feedback names them (file name without .ipynb)."""
    return sorted(path.stem for path in folder.glob("*.ipynb") if path.is_file())


def feedback_file(feedback: Path, secret: str, notebook_id: str) -> Path:
    """Where fetch_feedback looks for the page of one notebook of a submission."""
    from nbgrader.utils import notebook_hash

    return feedback / f"{notebook_hash(secret=secret, notebook_id=notebook_id)}.html"


def ensure_feedback_folder(feedback: Path) -> None:
    """EXCHANGE/COURSE_ID/feedback, mode 0755 as nbgrader's release_feedback makes it."""
    feedback.mkdir(parents=True, exist_ok=True)
    try:
        os.chmod(feedback, 0o755)
    except PermissionError:
        pass  # made by someone else (the instructor's release_feedback): it is theirs to set


def write_durably(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Replace `path` atomically with `data`, on disk before it appears (a reader never sees half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    sync_folder(path.parent)


def sync_folder(folder: Path) -> None:
    """fsync a folder, so that a file just created or renamed in it survives a crash."""
    descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
