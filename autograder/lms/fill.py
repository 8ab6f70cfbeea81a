"""What filling an LMS file did, for the terminal: counts, and every row that needs the instructor's eye."""

from dataclasses import dataclass, field

from autograder.lms.sheet import format_number


@dataclass
class FillReport:
    written: int = 0  # grades written
    matched: set[str] = field(default_factory=set)  # LMS ids found in the file
    no_submission: list[str] = field(default_factory=list)  # rows in the file without a submission
    kept: list[str] = field(default_factory=list)  # ... of them whose grade in the file was kept
    problems: list[str] = field(default_factory=list)  # handed in, but no grade written: why
    scaled: set[str] = field(default_factory=set)  # "42 points -> 100"


def scaled(points: float, maximum: float, lms_maximum: float | None, report: FillReport, where: str) -> float:
    """Points on the LMS's scale: the LMS's maximum when it has one that differs from the notebooks'."""
    if lms_maximum is None or lms_maximum <= 0 or maximum <= 0 or abs(lms_maximum - maximum) < 1e-9:
        return points
    report.scaled.add(
        f"{where}: {format_number(maximum)} points scaled to the LMS's maximum of {format_number(lms_maximum)}"
    )
    return points * lms_maximum / maximum


def no_submission(cell: str, missing: str, label: str, report: FillReport) -> str:
    """The cell of a student in the file with nothing graded: as it is ("empty"), or 0 ("zero") unless it
    already holds a grade, which is kept and listed."""
    report.no_submission.append(label)
    if missing == "zero":
        if cell.strip() == "":
            return "0"
        report.kept.append(f"{label} (kept {cell.strip()})")
    return cell
