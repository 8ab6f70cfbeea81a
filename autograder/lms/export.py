"""`python -m autograder export OUT --lms moodle|canvas|plain`: the grades of a class run, as the LMS imports them.

    --worksheet FILE      fill the LMS's own file (Moodle: the grading worksheet; Canvas: the gradebook export)
                          instead of writing a new one: its rows, columns, names and ids stay as they are, only
                          the grade (and Moodle's feedback comment) cells change; FILE itself is never written
    --total / --per-stage one grade for all stages graded (default), or one per stage (Canvas, plain: a column
                          per stage; Moodle: a worksheet is one assignment, so one stage: --notebooks)
    --missing empty|zero  a student who handed in nothing for it: the cell as it is (default) or 0
    --to FILE             where the result goes (default: OUT/export/...)

Students the grader found that are not in the worksheet are printed and written next to the result
(`...-not-in-worksheet.csv`), never dropped silently.
"""

import csv
import sys
from pathlib import Path

from autograder.course import STAGES
from autograder.grading.roster import read_roster
from autograder.lms import canvas, moodle
from autograder.lms.fill import FillReport
from autograder.lms.scores import Mark, mark, read_scores
from autograder.lms.sheet import ExportError, format_number, read_sheet

DEFAULT_NAMES = {
    "moodle": "moodle-grading-worksheet.csv",
    "canvas": "canvas-gradebook-import.csv",
    "plain": "grades-per-student.csv",
}
TOTAL_TITLE = "QKV self-attention notebooks"
LMS_NAMES = {"moodle": "Moodle", "canvas": "Canvas"}
ID_WORDS = {"moodle": "participant", "canvas": "user id"}


def _stages(out: Path, requested: str | None) -> list[str]:
    with (out / "grades.csv").open(newline="", encoding="utf-8") as handle:
        found = {row["notebook"] for row in csv.DictReader(handle)}
    if requested:
        stages = [s.strip() for s in requested.split(",") if s.strip()]
        unknown = [s for s in stages if s not in found]
        if unknown:
            raise ExportError(
                f"--notebooks: {', '.join(unknown)} not graded in {out} (it has "
                f"{', '.join(s for s in STAGES if s in found) or 'none'})"
            )
        return [s for s in STAGES if s in stages]
    return [s for s in STAGES if s in found]


def _wanted_columns(values: list[str], targets: list[str]) -> dict[str, str]:
    """--assignment 'STAGE=Title (id)' per stage, or one 'Title (id)' for the total."""
    wanted = {}
    for value in values:
        stage, sep, column = value.partition("=")
        if sep and stage.strip() in STAGES:
            if stage.strip() not in targets:
                raise ExportError(f"--assignment {value!r}: {stage.strip()} is not exported here")
            wanted[stage.strip()] = column
        elif targets == ["total"]:
            wanted["total"] = value
        else:
            raise ExportError(
                f"--assignment {value!r}: with --per-stage write STAGE=COLUMN, e.g. {targets[0]}='Stage 1 (4711)'"
            )
    return wanted


def _write_unmatched(to: Path, unmatched: list[list[str]]) -> Path | None:
    path = to.with_name(to.stem + "-not-in-worksheet.csv")
    if not unmatched:
        path.unlink(missing_ok=True)
        return None
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["student_id", "student_name", "lms", "lms_id", "points", "maximum", "why"])
        writer.writerows(unmatched)
    return path


def export(
    out: Path,
    lms: str,
    worksheet: Path | None = None,
    per_stage: bool = False,
    missing: str = "empty",
    to: Path | None = None,
    notebooks: str | None = None,
    assignments: list[str] | None = None,
    written: bool = True,
    stream=None,
    errors=None,
) -> Path:
    """Write the LMS file for the class graded into `out`; returns its path. Raises ExportError."""
    stream, errors = stream or sys.stdout, errors or sys.stderr
    if not (out / "grades.csv").is_file():
        raise ExportError(f"{out} has no grades.csv: give the --out folder of `python -m autograder grade`")
    if worksheet is not None and lms == "plain":
        raise ExportError("--worksheet needs --lms moodle or --lms canvas")
    stages = _stages(out, notebooks)
    if not stages:
        raise ExportError(f"{out}/grades.csv has no graded notebooks")
    if lms == "moodle" and per_stage and len(stages) > 1:
        raise ExportError(
            "a Moodle worksheet is one assignment, and its participant numbers belong to it: use "
            "--total, or export one stage with --notebooks STAGE"
        )
    to = (to or out / "export" / DEFAULT_NAMES[lms]).resolve()
    if worksheet is not None and to == worksheet.resolve():
        raise ExportError(f"--to {to} is the worksheet itself: the downloaded file is never changed; give another --to")
    if to.parent.resolve() == out.resolve() and to.name in ("grades.csv", "tests.csv", "collected.csv", "students.csv"):
        raise ExportError(f"--to {to} would replace the grader's own {to.name}")
    if to.is_dir():
        raise ExportError(f"--to {to} is a folder; give a file name")
    targets = list(stages) if per_stage else ["total"]
    roster = read_roster(out)
    scores = read_scores(out, stages)
    marks: dict[str, dict[str, Mark]] = {}
    for student_id, by_stage in scores.items():
        marks[student_id] = {
            target: mark([by_stage[s] for s in ([target] if per_stage else stages) if s in by_stage], missing, written)
            for target in targets
        }

    if lms == "plain":
        _write_plain(to, stages, targets, roster, scores, marks, written)
        print(
            f"Wrote {to}: {len(marks)} students, {', '.join(stages)} "
            f"({'one column per stage' if per_stage else 'total'}).",
            file=stream,
        )
        return to

    label = LMS_NAMES[lms]
    if any(e.lms == "unknown" for e in roster.values()):
        print(
            f"note: {out} has no students.csv (graded by an older grader): student ids that are numbers are taken "
            f"as {label} ids; grade the download again to be sure",
            file=errors,
        )
    ours = {
        e.lms_id: e
        for e in roster.values()
        if e.student_id in marks and (e.lms == label or (e.lms == "unknown" and e.lms_id.isdigit()))
    }
    others = [e for e in roster.values() if e.student_id in marks and e.lms_id not in ours]
    if not ours:
        found = sorted({e.lms for e in roster.values()})
        raise ExportError(
            f"{out} was not graded from a {label} download (its students come from: "
            f"{', '.join(found)}); the {label} ids are not known"
        )
    assignments = assignments or []
    if worksheet is None:
        report = FillReport(
            written=sum(m.points is not None for e in ours.values() for m in marks[e.student_id].values()),
            matched=set(ours),
        )
        if lms == "moodle":
            sheet = moodle.new_worksheet(
                [(e, marks[e.student_id]["total" if not per_stage else stages[0]]) for e in ours.values()]
            )
        else:
            names = _wanted_columns(assignments, targets)
            columns = [names.get(t, TOTAL_TITLE if t == "total" else t) for t in targets]
            sheet = canvas.new_gradebook(
                columns, [(e, {c: marks[e.student_id][t] for c, t in zip(columns, targets)}) for e in ours.values()]
            )
        for entry in ours.values():
            for found in marks[entry.student_id].values():
                if found.problem:
                    report.problems.append(
                        f"{entry.name or entry.student_id} ({label} {ID_WORDS[lms]} {entry.lms_id}): {found.problem}"
                    )
    else:
        what = moodle.WHAT if lms == "moodle" else canvas.WHAT
        sheet = read_sheet(worksheet, what)
        by_lms_id = {lms_id: marks[e.student_id] for lms_id, e in ours.items()}
        if lms == "moodle":
            target = "total" if not per_stage else stages[0]
            report = moodle.fill_worksheet(sheet, {k: v[target] for k, v in by_lms_id.items()}, missing, str(worksheet))
        else:
            columns = canvas.choose_columns(sheet, targets, _wanted_columns(assignments, targets), str(worksheet))
            report = canvas.fill_gradebook(sheet, columns, by_lms_id, missing, str(worksheet))
    sheet.write(to)

    unmatched = []
    for entry in sorted(list(ours.values()) + others, key=lambda e: e.student_id):
        if entry in others or entry.lms_id not in report.matched:
            why = (
                f"not from a {label} download ({entry.lms})"
                if entry in others
                else f"{label} {ID_WORDS[lms]} {entry.lms_id} is not in the worksheet"
            )
            for target, found in marks[entry.student_id].items():
                unmatched.append(
                    [
                        entry.student_id,
                        entry.name,
                        entry.lms,
                        entry.lms_id,
                        "" if found.points is None else format_number(found.points),
                        format_number(found.maximum),
                        why + ("" if target == "total" else f" ({target})"),
                    ]
                )
    listed = _write_unmatched(to, unmatched)
    _say(stream, errors, to, lms, worksheet, report, missing, listed, unmatched, stages, per_stage)
    return to


def _say(stream, errors, to, lms, worksheet, report, missing, listed, unmatched, stages, per_stage) -> None:
    label = LMS_NAMES[lms]
    kind = "grading worksheet" if lms == "moodle" else "gradebook import"
    source = f"filled from {worksheet}" if worksheet else "new file"
    print(
        f"Wrote {to} ({label} {kind}, {source}): {report.written} grade(s) for "
        f"{', '.join(stages)} ({'one column per stage' if per_stage and lms == 'canvas' else 'total'}).",
        file=stream,
    )
    if report.no_submission:
        print(
            f"{len(report.no_submission)} student(s) in the worksheet without a submission: "
            f"{'left as they were (--missing zero: 0)' if missing == 'empty' else 'set to 0 where empty'}.",
            file=stream,
        )
    for line in sorted(report.scaled):
        print(f"note: {line}", file=stream)
    for line in report.kept:
        print(f"kept: {line}: no submission, but the worksheet already has a grade", file=errors)
    for line in report.problems:
        print(f"not exported: {line}", file=errors)
    if unmatched:
        names = sorted({f"{row[1] or row[0]}: {row[6]}" for row in unmatched})
        print(f"not in {to.name}: {len(names)} student(s) graded but not exported (listed in {listed}):", file=errors)
        for name in names:
            print(f"  {name}", file=errors)
    steps = {
        "moodle": "Moodle: the assignment > View all submissions > Grading action: Upload grading worksheet",
        "canvas": "Canvas: Grades > Import > choose the file, check the changes, Upload",
    }
    print(f"Next: {steps[lms]}.", file=stream)


def _write_plain(to: Path, stages, targets, roster, scores, marks, written) -> None:
    """One row per student: ids, name, the points per stage (or the total), maximum, late stages, comment."""
    columns = ["student_id", "student_name", "lms", "lms_id"]
    columns += [f"{t}" for t in targets] + [f"{t} max" for t in targets] + ["late", "comment"]
    rows = []
    for student_id in sorted(marks):
        entry = roster.get(student_id)
        row = [student_id, entry.name if entry else "", entry.lms if entry else "", entry.lms_id if entry else ""]
        row += [
            "" if marks[student_id][t].points is None else format_number(marks[student_id][t].points) for t in targets
        ]
        row += [format_number(marks[student_id][t].maximum) for t in targets]
        row += [" ".join(entry.late) if entry else "", "; ".join(marks[student_id][t].comment for t in targets)]
        rows.append(row)
    to.parent.mkdir(parents=True, exist_ok=True)
    with to.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(rows)


# -- command line -------------------------------------------------------------------------------------------


def add_export_parser(commands) -> None:
    parser = commands.add_parser(
        "export",
        help="the grades of a graded class as Moodle's grading worksheet, a Canvas gradebook import, or a plain table",
        description="Write the grades of OUT (the --out folder of `grade`) as the file the LMS imports.",
    )
    parser.add_argument("out", type=Path, metavar="OUT", help="the output folder of `python -m autograder grade`")
    parser.add_argument("--lms", choices=["moodle", "canvas", "plain"], required=True)
    parser.add_argument(
        "--worksheet",
        type=Path,
        metavar="FILE",
        help="the grading worksheet (Moodle) or gradebook export (Canvas) downloaded from the LMS: "
        "filled in, keeping its rows and columns (FILE itself is not changed)",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--total", dest="per_stage", action="store_false", help="one grade for all stages (default)")
    mode.add_argument("--per-stage", dest="per_stage", action="store_true", help="one grade per stage")
    parser.add_argument(
        "--missing",
        choices=["empty", "zero"],
        default="empty",
        help="a student in the worksheet who handed in nothing: leave the cell (default) or 0",
    )
    parser.add_argument("--to", type=Path, metavar="FILE", help="where to write (default: OUT/export/...)")
    parser.add_argument("--notebooks", metavar="LIST", help="comma-separated stages to export (default: all graded)")
    parser.add_argument(
        "--assignment",
        action="append",
        default=[],
        metavar="[STAGE=]COLUMN",
        help="Canvas: the column to fill, 'Title (id)' as in the gradebook export (per stage: "
        "STAGE=COLUMN); without --worksheet, the title of the new assignment",
    )
    parser.add_argument(
        "--autograded-only",
        action="store_true",
        help="leave out the written answers (graded in Formgrader): grade = autograded points",
    )
    parser.set_defaults(run=command_export, per_stage=False)


def command_export(args) -> int:
    export(
        args.out,
        args.lms,
        args.worksheet,
        args.per_stage,
        args.missing,
        args.to,
        args.notebooks,
        args.assignment,
        not args.autograded_only,
    )
    return 0
