"""What the grader writes: the grade table, the per-test table, the inventory, the summary, the progress bar.

Files in the output folder (all sorted by student and notebook, without times or temporary paths, so two
runs on the same input give the same bytes):

  grades.csv     student_id, notebook, score, max_score, status, detail, student_name
  tests.csv      student_id, notebook, test, kind, points, max_points, result, note
                 (note: unusual code that ran before the test, e.g. a shell command; it cost nothing)
  collected.csv  student_id, file, what   (every file found in the input and what was done with it)
  summary.txt    the summary printed on the terminal, with the run's settings and timings
  feedback/<student_id>/<notebook>.html
"""

import csv
import sys
import time
from collections import Counter
from pathlib import Path

from autograder.grading.result import Status

GRADE_COLUMNS = ["student_id", "notebook", "score", "max_score", "status", "detail", "student_name"]
TEST_COLUMNS = ["student_id", "notebook", "test", "kind", "points", "max_points", "result", "note"]
ATTENTION = tuple(s for s in Status if s.needs_attention)


def _number(value) -> str:
    """2.0 -> '2', 2.5 -> '2.5', None -> ''."""
    if value is None:
        return ""
    return f"{value:.4f}".rstrip("0").rstrip(".")


def _write(path: Path, columns: list[str], rows: list[list]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(rows)


def write_tables(out: Path, results: list, names: dict[str, str], inventory: list[tuple[str, str, str]]) -> None:
    """grades.csv, tests.csv and collected.csv in `out`. results: NotebookResult, any order."""
    ordered = sorted(results, key=lambda r: (r.student_id, r.notebook))
    _write(
        out / "grades.csv",
        GRADE_COLUMNS,
        [
            [
                r.student_id,
                r.notebook,
                _number(r.score),
                _number(r.max_score),
                r.status,
                r.detail,
                names.get(r.student_id, ""),
            ]
            for r in ordered
        ],
    )
    _write(
        out / "tests.csv",
        TEST_COLUMNS,
        [
            [r.student_id, r.notebook, t.name, t.kind, _number(t.points), _number(t.max_points), t.result, t.note]
            for r in ordered
            for t in r.tests
        ],
    )
    _write(out / "collected.csv", ["student_id", "file", "what"], [list(row) for row in inventory])


def summary(results: list, stages: list[str], settings: list[str], seconds: float, out: Path) -> str:
    """The text shown at the end of a run: the grade table, the statuses, what needs attention."""
    ordered = sorted(results, key=lambda r: (r.student_id, r.notebook))
    students = sorted({r.student_id for r in ordered})
    by_key = {(r.student_id, r.notebook): r for r in ordered}
    width = max([len(s) for s in students] + [7])
    column = max(len(s) for s in stages) + 1
    lines = ["Grades (autograded points / maximum; written answers are graded by hand in nbgrader's formgrader)", ""]
    lines.append("student".ljust(width) + "".join(s.rjust(column) for s in stages) + "total".rjust(12))
    for student in students:
        row, total, maximum = student.ljust(width), 0.0, 0.0
        for stage in stages:
            result = by_key.get((student, stage))
            if result is None:
                cell = "-"
            elif Status(result.status).scored:
                cell = f"{_number(result.score)}/{_number(result.max_score)}" + (
                    "!" if result.status != Status.GRADED else ""
                )
            else:
                cell = result.status
            total += result.score if result else 0
            maximum += result.max_score if result else 0
            row += cell.rjust(column)
        lines.append(row + f"{_number(total)}/{_number(maximum)}".rjust(12))
    counts = Counter(r.status for r in ordered)
    lines += ["", "Status: " + ", ".join(f"{counts[s]} {s}" for s in Status if counts[s])]
    attention = [r for r in ordered if r.status in ATTENTION]
    if attention:
        lines += ["", "Needs attention (! in the table):"]
        for result in attention:
            lines.append(
                f"  {result.student_id} {result.notebook}: {result.status}"
                + (f" - {result.detail}" if result.detail else "")
            )
    noted = [r for r in ordered if r.status not in ATTENTION and _notes(r.detail)]
    if noted:
        lines += ["", "Notes (no points taken: the grader saw unusual code that did not change how tests ran):"]
        for result in noted:
            found = _notes(result.detail)
            more = f" (+{len(found) - 3} more)" if len(found) > 3 else ""
            lines.append(f"  {result.student_id} {result.notebook}: " + "; ".join(found[:3]) + more)
    graded = [r.seconds for r in ordered if r.seconds and r.status not in ("missing", "unreadable")]
    time_line = f"Time: {seconds:.0f} s for {len(ordered)} notebooks"
    if graded:  # throughput (wall clock per notebook) and latency (one notebook from start to result) differ
        time_line += (
            f" ({seconds / len(ordered):.1f} s per notebook with the workers in parallel; "
            f"one notebook took {sum(graded) / len(graded):.1f} s on average from start to result)"
        )
    lines += [
        "",
        *settings,
        time_line,
        f"Results: {out / 'grades.csv'}, {out / 'tests.csv'}, feedback pages in {out / 'feedback'}",
    ]
    return "\n".join(lines) + "\n"


def _notes(detail: str) -> list[str]:
    return [part[len("note: ") :] for part in detail.split("; ") if part.startswith("note: ")]


class Progress:
    """A one-line progress bar on a terminal; one line per notebook otherwise (logs, CI)."""

    def __init__(self, total: int, stream=sys.stdout):
        self.total, self.done, self.stream = total, 0, stream
        self.started = time.monotonic()
        self.tty = stream.isatty()

    def update(self, result) -> None:
        self.done += 1
        elapsed = time.monotonic() - self.started
        score = f"{_number(result.score)}/{_number(result.max_score)}"
        what = f"{result.student_id}/{result.notebook}: {result.status} {score}"
        if self.tty:
            filled = int(30 * self.done / self.total)
            bar = "#" * filled + "-" * (30 - filled)
            self.stream.write(f"\r[{bar}] {self.done}/{self.total} {elapsed:5.0f} s  {what[:60]:<60}")
            if self.done == self.total:
                self.stream.write("\n")
        else:
            self.stream.write(f"[{self.done}/{self.total}] {what} ({result.seconds:.1f} s)\n")
        self.stream.flush()
