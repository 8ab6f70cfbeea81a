"""What a notebook cell is to nbgrader, in nbgrader's own words (nbgrader.utils), for NotebookNode cells."""

from nbgrader.utils import is_grade, is_locked, is_solution

__all__ = ["grade_id", "is_grade", "is_locked", "is_solution", "is_test", "is_written_answer", "points"]


def grade_id(cell) -> str | None:
    """The cell's nbgrader grade_id, or None for a cell nbgrader does not track."""
    meta = cell.metadata.get("nbgrader")
    return meta.get("grade_id") if isinstance(meta, dict) else None


def points(cell) -> float:
    return float(cell.metadata["nbgrader"].get("points", 0))


def is_test(cell) -> bool:
    """An autograded test: a graded code cell that is not an answer."""
    return cell.cell_type == "code" and bool(is_grade(cell)) and not is_solution(cell)


def is_written_answer(cell) -> bool:
    """An answer graded by hand: a graded solution cell."""
    return bool(is_grade(cell)) and bool(is_solution(cell))
