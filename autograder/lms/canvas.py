"""Canvas's gradebook import CSV: what Grades > Import accepts (app/models/gradebook_importer.rb).

Canvas exports (Grades > Export) and imports this layout:

  Student,ID,SIS User ID,SIS Login ID,Section,Stage 1: data (4711),...,Current Score,...,Final Grade
  ,,,,,Manual Posting,...                  (only when an assignment posts grades manually)
      Points Possible,,,,,5,...,(read only),...
  "Müller, Anna",4242,S123,amueller,Section A,4,...

The first columns must be Student and ID (the Canvas user id: the number after the name in the
"Download submissions" file names); Section ends the student columns. An assignment column is named
"Title (assignment id)"; a column whose name matches no assignment creates a new one, with the points of the
"Points Possible" row. Totals ("Current Score", ...) are read only. A student is found by ID, then SIS User
ID, SIS Login ID, then name. Canvas writes ';' as separator (and ',' as decimal mark) in some locales.
"""

import re

from autograder.lms.fill import FillReport, no_submission, scaled
from autograder.lms.scores import Mark
from autograder.lms.sheet import ExportError, Sheet, format_number, parse_number

WHAT = "Canvas gradebook CSV"
STUDENT_COLUMNS = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
POINTS_POSSIBLE = "    Points Possible"
TOTALS = re.compile(
    r"Current Score|Current Points|Current Grade|Final Score|Final Points|Final Grade|"
    r"Override Score|Override Grade|Override Status"
)
WITH_ID = re.compile(r"^(?P<title>.*?)\s*\((?P<id>\d+)\)\s*$")
POSTING_ROW = re.compile(r"^\s*(Muted|Manual Posting.*)?\s*$", re.I)
UNTOUCHABLE = ("N/A", "EX")  # not assigned to this student; excused


def title(header: str) -> str:
    found = WITH_ID.match(header)
    return found["title"] if found else header.strip()


def _simple(text: str) -> str:
    return re.sub(r"[^0-9a-z]", "", text.casefold())


def new_gradebook(columns: list[str], rows: list[tuple[object, dict[str, Mark]]]) -> Sheet:
    """A gradebook import for the students of a Canvas download: one column per name in `columns` (a
    "Title (id)" of an existing assignment, or a new assignment's title); rows: (RosterEntry, {column: Mark})."""
    maxima = {}
    for _, marks in rows:
        for column, found in marks.items():
            maxima.setdefault(column, found.maximum)
    lines = [
        STUDENT_COLUMNS + columns,
        [POINTS_POSSIBLE, "", "", "", ""] + [format_number(maxima.get(column, 0)) for column in columns],
    ]
    for entry, marks in sorted(rows, key=lambda row: (len(row[0].lms_id), row[0].lms_id)):
        lines.append(
            [entry.name, entry.lms_id, "", "", ""]
            + ["" if marks[c].points is None else format_number(marks[c].points) for c in columns]
        )
    return Sheet(lines, bom=True, delimiter=",", newline="\n", quoting="minimal")


def assignment_columns(sheet: Sheet, name: str) -> list[int]:
    """Indices of the assignment columns of Canvas's own export (after Section, without the totals)."""
    header = sheet.header
    if len(header) < 3 or "Student" not in header[0] or "ID" not in header[1]:
        raise ExportError(
            f"{name} is not a {WHAT}: its first columns must be Student and ID (export it from "
            "Canvas: Grades > Export > Export Entire Gradebook)"
        )
    section = sheet.column("Section")
    if section is None:
        raise ExportError(f"{name} is not a {WHAT}: it has no Section column")
    return [index for index in range(section + 1, len(header)) if not TOTALS.search(header[index])]


def choose_columns(sheet: Sheet, targets: list[str], wanted: dict[str, str], name: str) -> dict[str, int]:
    """{target (a stage, or "total"): column index}. wanted: {target: the column the instructor named}; a
    stage without one is matched by its name in the column titles ("01_data", "01 data")."""
    columns = assignment_columns(sheet, name)
    listing = "; ".join(sheet.header[i] for i in columns) or "none"
    chosen = {}
    for target in targets:
        if target in wanted:
            ask = wanted[target].strip().casefold()
            hits = [i for i in columns if sheet.header[i].strip().casefold() == ask] or [
                i for i in columns if title(sheet.header[i]).casefold() == ask
            ]
            if len(hits) != 1:
                raise ExportError(
                    f"{name}: no single assignment column {wanted[target]!r} (its assignment columns: {listing})"
                )
        elif target == "total":
            hits = [i for i in columns if WITH_ID.match(sheet.header[i])]
            if len(hits) != 1:
                raise ExportError(
                    f"{name} has {len(hits)} assignment columns: name the one for the total with "
                    f"--assignment 'Title (id)' (its assignment columns: {listing})"
                )
        else:
            hits = [i for i in columns if _simple(target) in _simple(title(sheet.header[i]))]
            if len(hits) != 1:
                raise ExportError(
                    f"{name}: {'no' if not hits else 'more than one'} assignment column for {target}: "
                    f"name it with --assignment {target}='Title (id)' (its assignment columns: "
                    f"{listing})"
                )
        chosen[target] = hits[0]
    if len(set(chosen.values())) != len(chosen):
        raise ExportError(f"{name}: two stages would go into the same column: name each with --assignment")
    return chosen


def fill_gradebook(
    sheet: Sheet, columns: dict[str, int], marks: dict[str, dict[str, Mark]], missing: str, name: str
) -> FillReport:
    """Write marks ({Canvas user id: {target: Mark}}) into the chosen columns of Canvas's own export."""
    report = FillReport()
    points_row = next((row for row in sheet.rows[1:] if row and "Points Possible" in row[0]), None)
    for index in columns.values():
        if points_row is not None and index < len(points_row) and "read only" in points_row[index]:
            raise ExportError(f"{name}: the column {sheet.header[index]!r} is read only in Canvas")
    comma = sheet.delimiter == ";"
    for row in sheet.rows[1:]:
        if not row or row is points_row or all(POSTING_ROW.match(cell) for cell in row) or len(row) < 2:
            continue
        user_id = row[1].strip()
        label = f"{row[0]} (ID {user_id})"
        found = marks.get(user_id)
        if found is not None:
            report.matched.add(user_id)
        for target, index in columns.items():
            while len(row) <= index:
                row.append("")
            mark = found.get(target) if found else None
            where = f"{label}, {title(sheet.header[index])}"
            if row[index].strip().upper() in UNTOUCHABLE:
                if mark is not None and mark.points is not None:
                    report.problems.append(f"{where}: {row[index].strip()} in Canvas, left as it is")
                continue
            if mark is None or (mark.points is None and not mark.problem):
                row[index] = no_submission(row[index], missing, where, report)
                continue
            if mark.points is None:
                report.problems.append(f"{where}: {mark.problem}")
                continue
            lms_maximum = (
                parse_number(points_row[index]) if points_row is not None and index < len(points_row) else None
            )
            row[index] = format_number(
                scaled(mark.points, mark.maximum, lms_maximum, report, title(sheet.header[index])), comma
            )
            report.written += 1
    if points_row is not None:
        for target, index in columns.items():
            while len(points_row) <= index:
                points_row.append("")
            if parse_number(points_row[index]) is None:  # a new assignment: Canvas takes its points from here
                any_mark = next((m[target] for m in marks.values() if target in m), None)
                if any_mark is not None:
                    points_row[index] = format_number(any_mark.maximum, comma)
    return report
