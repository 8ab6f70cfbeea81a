"""Where the course lives: the repository's folders and the ordered list of stages."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = ROOT / "solutions"
NOTEBOOKS = ROOT / "notebooks"
FIGURES = ROOT / "Grafiken"
CONFIG = ROOT / "autograder" / "nbgrader_config.py"


def _stages() -> list[str]:
    """Stage names, in teaching order: the folders of solutions/ named like `01_data`."""
    return sorted(p.name for p in SOLUTIONS.iterdir() if p.is_dir() and p.name[:2].isdigit() and p.name[2] == "_")


STAGES = _stages()


def solution_notebook(stage: str) -> Path:
    """The instructor notebook of a stage: solutions/<stage>/<stage>.ipynb."""
    return SOLUTIONS / stage / f"{stage}.ipynb"


def student_notebook(stage: str) -> Path:
    """The generated student notebook of a stage: notebooks/<stage>/<stage>.ipynb."""
    return NOTEBOOKS / stage / f"{stage}.ipynb"
