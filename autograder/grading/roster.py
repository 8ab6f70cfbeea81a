"""OUT/students.csv: every student the grader found and who they are in the LMS the files came from.

student_id    the id the grader uses (folder names, grades.csv)
student_name  the name as the download gives it (Moodle: the full name; Canvas: its `lastfirst` label;
              folders: the folder name when it could not be the id as it is)
lms           Moodle, Canvas or folders
lms_id        the id as found: Moodle's participant number ("Participant 1234" in the grading worksheet),
              the Canvas user id (the "ID" column of the gradebook), or the folder name
late          the stages whose graded file the LMS marked late, space-separated (Canvas's `_late_`)
"""

import csv
from dataclasses import dataclass
from pathlib import Path

COLUMNS = ["student_id", "student_name", "lms", "lms_id", "late"]
FILE = "students.csv"


@dataclass(frozen=True)
class RosterEntry:
    student_id: str
    name: str
    lms: str  # "Moodle", "Canvas", "folders", or "unknown" for an output folder from an older grader
    lms_id: str
    late: tuple[str, ...] = ()


def write_roster(out: Path, students) -> None:
    """students: collect.Student objects."""
    with (out / FILE).open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(COLUMNS)
        for student in sorted(students, key=lambda s: s.student_id):
            writer.writerow(
                [student.student_id, student.name, student.lms, student.lms_id, " ".join(sorted(student.late))]
            )


def read_roster(out: Path) -> dict[str, RosterEntry]:
    """{student_id: entry}. An output folder graded before students.csv existed: the ids of grades.csv, whose
    LMS is unknown (a Moodle participant number or Canvas user id is then the student id itself)."""
    path = out / FILE
    if path.exists():
        with path.open(newline="", encoding="utf-8") as handle:
            return {
                row["student_id"]: RosterEntry(
                    row["student_id"], row["student_name"], row["lms"], row["lms_id"], tuple(row["late"].split())
                )
                for row in csv.DictReader(handle)
            }
    entries = {}
    with (out / "grades.csv").open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            name = row.get("student_name", "")
            late = name.endswith(" (late)")
            entries[row["student_id"]] = RosterEntry(
                row["student_id"], name.removesuffix(" (late)"), "unknown", row["student_id"], ("?",) if late else ()
            )
    return entries
