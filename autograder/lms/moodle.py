"""Moodle's grading worksheet: what "Upload grading worksheet" (assignment > View all submissions) accepts.

Moodle writes it (mod/assign/gradingtable.php, downloaded) as UTF-8 with a BOM, comma-separated, PHP-quoted:

  Identifier,"Full name","Email address",Status,Grade,"Maximum Grade","Grade can be changed",
  "Last modified (submission)","Last modified (grade)","Feedback comments"
  "Participant 1234","Anna Müller",anna@example.org,"Submitted for grading",,100.00,Yes,...

(more columns when the site shows more user fields, uses marking workflow, or has other submission and
feedback plugins). On upload (mod/assign/feedback/offline/importgradeslib.php) Moodle needs the columns
Identifier, Grade and "Last modified (grade)", takes the number after "Participant " as the participant
number of THIS assignment (the same number as in the "Download all submissions" folder names), skips empty
grades and grades above the maximum, skips rows whose grade was changed in Moodle after the worksheet's
"Last modified (grade)" (unless "Allow updating records that have been modified more recently in Moodle"
is ticked) and sets "Feedback comments" when that feedback type is on.
"""

import re

from autograder.lms.fill import FillReport, no_submission, scaled
from autograder.lms.scores import Mark
from autograder.lms.sheet import ExportError, Sheet, format_number, parse_number

WHAT = "Moodle grading worksheet"
COLUMNS = [
    "Identifier",
    "Full name",
    "Email address",
    "Status",
    "Grade",
    "Maximum Grade",
    "Grade can be changed",
    "Last modified (submission)",
    "Last modified (grade)",
    "Feedback comments",
]
REQUIRED = ("Identifier", "Grade", "Last modified (grade)")
PARTICIPANT = re.compile(r"(\d+)\s*$")


def new_worksheet(rows: list[tuple[object, Mark]]) -> Sheet:
    """A worksheet for the participants of a Moodle download. rows: (RosterEntry, Mark)."""
    lines = [list(COLUMNS)]
    for entry, mark in sorted(rows, key=lambda row: (len(row[0].lms_id), row[0].lms_id)):
        grade = "" if mark.points is None else format_number(mark.points)
        lines.append(
            [
                f"Participant {entry.lms_id}",
                entry.name,
                "",
                "",
                grade,
                format_number(mark.maximum),
                "Yes",
                "",
                "",
                mark.comment if mark.points is not None else "",
            ]
        )
    return Sheet(lines, bom=True, delimiter=",", newline="\n", quoting="php")


def fill_worksheet(sheet: Sheet, marks: dict[str, Mark], missing: str, name: str) -> FillReport:
    """Write the grades of `marks` ({participant number: Mark}) into Moodle's own worksheet, in place: only
    the Grade and Feedback comments cells change."""
    absent = [column for column in REQUIRED if sheet.column(column) is None]
    if sheet.column("Scale") is not None and sheet.column("Maximum Grade") is None:
        raise ExportError(
            f"{name}: this Moodle assignment is graded with a scale, not points: set its grade "
            "type to Point and download the worksheet again"
        )
    if absent or not sheet.rows:
        raise ExportError(
            f"{name} is not a {WHAT}: no column {', '.join(repr(c) for c in absent)} (download it "
            "from the assignment: View all submissions > Grading action > Download grading "
            "worksheet; with Moodle's language set to English)"
        )
    identifier, grade, full_name = sheet.column("Identifier"), sheet.column("Grade"), sheet.column("Full name")
    maximum, feedback = sheet.column("Maximum Grade"), sheet.column("Feedback comments")
    changeable = sheet.column("Grade can be changed")
    report = FillReport()
    for row in sheet.rows[1:]:
        if len(row) <= max(identifier, grade):
            continue
        number = PARTICIPANT.search(row[identifier])
        if not number:
            continue
        label = row[identifier].strip() + (
            f" ({row[full_name]})" if full_name is not None and full_name < len(row) and row[full_name] else ""
        )
        found = marks.get(number[1])
        if found is not None:
            report.matched.add(number[1])
        if found is None or (found.points is None and not found.problem):
            row[grade] = no_submission(row[grade], missing, label, report)
            continue
        if found.points is None:
            report.problems.append(f"{label}: {found.problem}")
            continue
        if changeable is not None and changeable < len(row) and row[changeable].strip().casefold() == "no":
            report.problems.append(f"{label}: Moodle says the grade cannot be changed (locked or released)")
            continue
        lms_maximum = parse_number(row[maximum]) if maximum is not None and maximum < len(row) else None
        comma = maximum is not None and maximum < len(row) and "," in row[maximum]
        row[grade] = format_number(scaled(found.points, found.maximum, lms_maximum, report, "Grade"), comma)
        if feedback is not None and feedback < len(row):
            row[feedback] = found.comment
        report.written += 1
    return report
