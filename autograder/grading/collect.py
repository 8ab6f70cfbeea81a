"""Finding the students and their notebooks in what an instructor downloaded.

SUBMISSIONS may be a folder or a .zip file holding any of these layouts:

- one folder per student id with the notebooks inside (`ada/01_data.ipynb`), at any depth below one
  wrapping folder (`class/ada/01_data.ipynb`);
- nbgrader's submitted/ layout (`[submitted/]ada/01_data/01_data.ipynb`, with or without timestamp.txt);
- a Moodle "Download all submissions" zip: `Full Name_123456_assignsubmission_file_/NAME.ipynb` (one
  folder per participant) or flat `Full Name_123456_assignsubmission_file_NAME.ipynb`; the student id is
  the participant number (what Moodle's grading worksheet calls "Participant 123456");
- a Canvas "Download submissions" zip: flat `lastfirst_123456_7891011_NAME.ipynb`, with `_late_` after the
  name for late work; the student id is the Canvas user id (the first number); Canvas appends `-1`, `-2`
  to re-uploaded file names.

A zip file inside a student's files (a student who zipped the notebooks) is opened too. Each notebook is
matched to a stage by its file name (`01_data.ipynb`, also `01_data-1.ipynb`, `01_data (2).ipynb`,
`01_data-Copy1.ipynb`, `ada_01_data.ipynb`) or, failing that, by its content (the grade_ids of the stage's
cells). Every file found is listed in the inventory with what was done with it: nothing is dropped
silently. The input is only read, never extracted in place; zip member names are never used as paths.
"""

import io
import json
import re
import unicodedata
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

JUNK = re.compile(r"(^|/)(__MACOSX|\.DS_Store|Thumbs\.db|desktop\.ini|\._[^/]*)(/|$)", re.I)
MOODLE = re.compile(r"^(?P<name>.+?)_(?P<id>\d+)_assign(submission|feedback)_(?P<plugin>[a-z]+)_(?P<rest>.*)$")
CANVAS = re.compile(r"^(?P<name>[^_/]+?)(?P<late>_late)?_(?P<id>\d+)_(?P<submission>\d+)_(?P<rest>.+)$", re.I)
COPY_SUFFIX = re.compile(r"(-copy\d*| copy\d*| \(\d+\)|-\d+|_\d+)$", re.I)
SAFE_ID = re.compile(r"[^\w.@+-]+")  # \w: letters of every script (Müller stays Müller)
NBGRADER_BOOKKEEPING = {"timestamp.txt", "submission_secret.txt"}  # in nbgrader's submitted/<student>/<stage>/
MAX_MEMBER_BYTES = 50 * 1024 * 1024  # a notebook larger than this is reported, not read
MAX_INNER_ZIP_BYTES = 200 * 1024 * 1024


class CollectError(ValueError):
    """SUBMISSIONS cannot be graded (no such file, not a zip, no notebooks): a one-line message."""


@dataclass
class Entry:
    """One file of the input: its path inside the input (posix), its size and how to read it."""

    path: str
    size: int
    read: callable

    def read_limited(self) -> bytes:
        if self.size > MAX_MEMBER_BYTES:
            raise OSError(f"{self.path} is larger than {MAX_MEMBER_BYTES // 1024 // 1024} MB")
        return self.read()


@dataclass
class Notebook:
    """The file graded as one stage of one student."""

    stage: str
    entry: Entry
    how: str  # "by name" or "by content"
    late: bool = False  # the LMS marked this file late (Canvas's `_late_` in the name)


@dataclass
class Student:
    student_id: str
    name: str = ""
    notebooks: dict[str, Notebook] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    lms: str = "folders"  # where the id comes from: "Moodle", "Canvas" or "folders"
    lms_id: str = ""  # the id as found: Moodle participant number, Canvas user id, folder name
    late: set[str] = field(default_factory=set)  # stages whose graded file the LMS marked late (Canvas)

    @property
    def display_name(self) -> str:
        """The name for the tables: the name, and "(late)" when the LMS marked a graded file late."""
        return self.name + (" (late)" if self.late else "")


@dataclass
class Collection:
    students: dict[str, Student]
    inventory: list[tuple[str, str, str]]  # (student_id, file, what was done with it)
    layout: str


# -- reading the input ------------------------------------------------------------------------------


def _folder_entries(folder: Path) -> tuple[list[Entry], list[str]]:
    entries, folders = [], []
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder).as_posix()
        if path.is_dir():
            folders.append(relative)
        elif path.is_file():
            entries.append(Entry(relative, path.stat().st_size, path.read_bytes))
    return entries, folders


def _zip_entries(archive: zipfile.ZipFile, prefix: str = "") -> tuple[list[Entry], list[str]]:
    entries, folders = [], []
    for info in archive.infolist():
        # a member name is only a label: no absolute paths, no '..'
        name = "/".join(
            part for part in _member_name(info).replace("\\", "/").split("/") if part not in ("", ".", "..")
        )
        if not name:
            continue
        if info.is_dir():
            folders.append(prefix + name)
        else:
            entries.append(Entry(prefix + name, info.file_size, lambda info=info: archive.read(info)))
    return entries, folders


def _member_name(info: zipfile.ZipInfo) -> str:
    """The member's name as its author wrote it, in NFC. Python reads a name without the zip's UTF-8 flag as
    cp437, but many tools (macOS, LMS downloads) write UTF-8 without setting it: `Müller` arrived as `M├╝ller`."""
    name = info.filename
    if not info.flag_bits & 0x800:
        try:
            name = name.encode("cp437").decode("utf-8")
        except UnicodeError:  # really cp437 (or something else): keep what Python read
            pass
    return unicodedata.normalize("NFC", name)


def open_input(submissions: Path) -> tuple[list[Entry], list[str], str]:
    """All files (and folders) of SUBMISSIONS; raises CollectError for a missing or wrong input."""
    if not submissions.exists():
        raise CollectError(f"{submissions}: no such folder or zip file")
    if submissions.is_dir():
        entries, folders = _folder_entries(submissions)
        return entries, folders, "folder"
    if not zipfile.is_zipfile(submissions):
        raise CollectError(f"{submissions} is neither a folder nor a zip file")
    try:
        archive = zipfile.ZipFile(submissions)  # reads and checks the zip's table of contents
    except (zipfile.BadZipFile, OSError) as error:
        raise CollectError(f"{submissions}: not a readable zip file ({error})") from error
    entries, folders = _zip_entries(archive)
    return entries, folders, "zip"


def _expand_inner_zips(entries: list[Entry]) -> tuple[list[Entry], list[tuple[str, str]]]:
    """Replace each student's .zip by its files (`x.zip/inner/path`); returns entries and problems."""
    result, problems = [], []
    for entry in entries:
        if not entry.path.lower().endswith(".zip"):
            result.append(entry)
            continue
        try:
            if entry.size > MAX_INNER_ZIP_BYTES:
                raise OSError("too large")
            inner = zipfile.ZipFile(io.BytesIO(entry.read()))
            files, _ = _zip_entries(inner, prefix=entry.path + "/")
            result += files
        except (zipfile.BadZipFile, OSError, RuntimeError) as error:
            problems.append((entry.path, f"ignored: a zip file that cannot be opened ({error})"))
    return result, problems


# -- students ---------------------------------------------------------------------------------------


def safe_id(text: str) -> str:
    """A student id usable as a folder name: letters (of any script, in NFC), digits and `_.@+-` are kept, every
    other run of characters becomes one '_' (`Müller, Anna (late)` -> `Müller_Anna_late`). The same text gives
    the same id on every machine and run (NFC: a zip made on a Mac writes `ü` as `u` + a combining mark)."""
    cleaned = SAFE_ID.sub("_", unicodedata.normalize("NFC", text)).strip("._") or "student"
    return cleaned[:80]


def _strip_wrappers(paths: list[str], stages: list[str]) -> str:
    """The prefix of folders that wrap the whole class (`class/`, `submitted/`), '' when there is none."""
    prefix = ""
    while True:
        rest = [p[len(prefix) :] for p in paths if p.startswith(prefix)]
        parts = [PurePosixPath(p).parts for p in rest if p]
        tops = {p[0] for p in parts}
        if len(tops) != 1 or not parts:
            return prefix
        top = next(iter(tops))
        if MOODLE.match(top) or top in stages:
            return prefix
        deep = all(len(p) >= 3 for p in parts) and not any(p[1] in stages for p in parts)
        if top != "submitted" and not deep:
            return prefix
        prefix += top + "/"


def _owner(parts: tuple[str, ...]) -> tuple[str, str, str, str, bool] | None:
    """(student_id, name, file path inside the student's files, layout, marked late) for a file, or None."""
    first = parts[0]
    moodle = MOODLE.match(first)
    if moodle:
        inner = "/".join(parts[1:]) if len(parts) > 1 else moodle["rest"]
        return moodle["id"], moodle["name"], inner, "Moodle", False
    if len(parts) == 1:
        canvas = CANVAS.match(first)
        if canvas:
            return canvas["id"], canvas["name"], canvas["rest"], "Canvas", bool(canvas["late"])
        return None
    return first, "", "/".join(parts[1:]), "folders", False


def _stage_by_name(path: str, stages: list[str]) -> tuple[str | None, int]:
    """(stage, rank) from a file path: 0 exact name, 1 a copy's name, 2 the stage named inside."""
    pure = PurePosixPath(path)
    stem = pure.stem.strip()
    if stem in stages:
        return stem, 0
    base = stem.lower()
    while COPY_SUFFIX.search(base):
        base = COPY_SUFFIX.sub("", base).strip()
    if base in stages:
        return base, 1
    if pure.parent.name in stages and len([s for s in stages if s in stem.lower()]) <= 1:
        return pure.parent.name, 1
    inside = [s for s in stages if s in stem.lower()]
    if len(inside) == 1:
        return inside[0], 2
    return None, 9


def _stage_by_content(entry: Entry, stage_ids: dict[str, set[str]]) -> str | None:
    """The stage whose grade_ids the notebook shares most (at least half of them), or None."""
    try:
        data = json.loads(entry.read_limited().decode("utf-8-sig"))
        cells = data.get("cells") or [c for w in data.get("worksheets", []) for c in w.get("cells", [])]
        found = {c.get("metadata", {}).get("nbgrader", {}).get("grade_id") for c in cells if isinstance(c, dict)}
    except Exception:  # unreadable: left to the grader, which reports it if it is matched by name
        return None
    scores = {stage: len(found & ids) / len(ids) for stage, ids in stage_ids.items() if ids}
    best = max(scores.values(), default=0)
    winners = [stage for stage, score in scores.items() if score == best]
    return winners[0] if best >= 0.5 and len(winners) == 1 else None


def collect(submissions: Path, stages: list[str], stage_ids: dict[str, set[str]]) -> Collection:
    """Students, their notebook per stage, and the inventory of every file; raises CollectError."""
    entries, folders, kind = open_input(submissions)
    inventory: list[tuple[str, str, str]] = []
    entries = [e for e in entries if not JUNK.search(e.path)]
    entries, problems = _expand_inner_zips(entries)
    prefix = _strip_wrappers([e.path for e in entries], stages)
    students: dict[str, Student] = {}
    keys: dict[str, str] = {}  # the id as found -> the id used (safe, unique)
    layouts = set()

    def student(student_id: str, name: str, layout: str = "folders") -> Student:
        if student_id not in keys:
            key = base = safe_id(student_id)
            number = 1
            while key in students:
                number += 1
                key = f"{base}-{number}"
            keys[student_id] = key
            # a folder name that could not be the id as it is stays readable as the student's name
            shown = name or (student_id if key != student_id else "")
            students[key] = Student(key, shown, lms=layout, lms_id=student_id)
            if key != student_id:
                students[key].notes.append(f"student id {student_id!r} written as {key!r}")
        return students[keys[student_id]]

    if kind == "folder":  # an empty student folder is a student who handed in nothing
        for folder in folders:
            if folder.startswith(prefix) and folder != prefix.rstrip("/"):
                parts = PurePosixPath(folder[len(prefix) :]).parts
                if len(parts) == 1 and not JUNK.search(folder) and not MOODLE.match(parts[0]):
                    student(parts[0], "")
    candidates: dict[tuple[str, str], list[tuple[int, Notebook]]] = {}
    unmatched: list[tuple[Student, Entry, str, bool]] = []
    for path, problem in problems:
        inventory.append(("", path, problem))
    for entry in entries:
        if not entry.path.startswith(prefix):
            inventory.append(("", entry.path, "ignored: outside the class folder"))
            continue
        owner = _owner(PurePosixPath(entry.path[len(prefix) :]).parts)
        if owner is None:
            inventory.append(("", entry.path, "ignored: not inside a student's folder"))
            continue
        student_id, name, inner, layout, late = owner
        layouts.add(layout)
        who = student(student_id, name, layout)
        if not inner.lower().endswith(".ipynb"):
            inventory.append((who.student_id, entry.path, "ignored: not a notebook"))
            continue
        if ".ipynb_checkpoints" in inner:
            inventory.append((who.student_id, entry.path, "ignored: a Jupyter checkpoint copy"))
            continue
        stage, rank = _stage_by_name(inner, stages)
        if stage is None:
            unmatched.append((who, entry, inner, late))
            continue
        candidates.setdefault((who.student_id, stage), []).append((rank, Notebook(stage, entry, "by name", late)))
    for who, entry, _inner, late in unmatched:
        stage = _stage_by_content(entry, stage_ids)
        if stage is None:
            inventory.append((who.student_id, entry.path, "ignored: a notebook of no stage of this course"))
            continue
        candidates.setdefault((who.student_id, stage), []).append((5, Notebook(stage, entry, "by content", late)))
    for (student_id, stage), options in sorted(candidates.items()):
        options.sort(key=lambda option: (option[0], option[1].entry.path))
        chosen = options[0][1]
        students[student_id].notebooks[stage] = chosen
        if chosen.late:
            students[student_id].late.add(stage)
        inventory.append((student_id, chosen.entry.path, f"graded as {stage} (matched {chosen.how})"))
        for _, other in options[1:]:
            inventory.append((student_id, other.entry.path, f"ignored: another file for {stage}"))
            students[student_id].notes.append(
                f"several files for {stage}: graded {PurePosixPath(chosen.entry.path).name}"
            )
    ignored: dict[str, list[str]] = {}
    for student_id, path, what in inventory:
        name = PurePosixPath(path).name
        if name in NBGRADER_BOOKKEEPING:
            continue  # nbgrader's exchange writes these next to every submission: not the student's files
        if student_id and what.startswith("ignored") and "another file for" not in what:
            ignored.setdefault(student_id, []).append(PurePosixPath(path).name)
    for student_id, files in ignored.items():
        students[student_id].notes.append(f"other files ignored: {', '.join(sorted(files))}")
    if not any(s.notebooks for s in students.values()):
        raise CollectError(
            f"no student notebooks found in {submissions} (expected one folder per student holding "
            f"notebooks named like {stages[0]}.ipynb, nbgrader's submitted/ layout, or a Moodle "
            "or Canvas zip)"
        )
    names = {"folders": "one folder per student", "Moodle": "Moodle download", "Canvas": "Canvas download"}
    layout = " and ".join(names[name] for name in sorted(layouts)) or "no student folders"
    return Collection(dict(sorted(students.items())), sorted(inventory), f"{kind}: {layout}")
