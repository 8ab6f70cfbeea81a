"""Build the student notebooks (notebooks/) from the instructor notebooks (solutions/).

Two steps, both idempotent:
1. Sync the sources. A markdown cell that shows `attachment:NAME.png` gets the figure Grafiken/NAME.png (the
   rendering of Grafiken/NAME.svg, see figures.py) embedded as a cell attachment, so it renders wherever the
   notebook travels (JupyterLab, release and feedback folders, HTML export).
   A read-only cell whose grade_id is `provided_<id>` gets the code of cell `<id>` of an earlier stage with
   the solution markers removed: later stages run on their own without sharing state.
2. Run `nbgrader generate_assignment` for every stage into the release folder.
"""

import base64
import re
import tempfile
from pathlib import Path

import nbformat

from autograder.course import FIGURES, NOTEBOOKS, ROOT, STAGES, solution_notebook
from autograder.nbgrader_cli import run_nbgrader
from autograder.release.figures import FigureError, embeddable_png

ATTACHMENT = re.compile(r"attachment:([\w.-]+)")
SOLUTION_MARKER = re.compile(r"^\s*### (BEGIN|END) SOLUTION\s*$")
PROVIDED_PREFIX = "provided_"


class CourseSourceError(ValueError):
    """A solution notebook is missing, unreadable or refers to something that does not exist."""


def read_notebook(path: Path) -> nbformat.NotebookNode:
    """Read and validate a notebook, with an error that names the file."""
    if not path.is_file():
        raise CourseSourceError(f"{path}: no such notebook")
    try:
        notebook = nbformat.read(path, as_version=4)
        nbformat.validate(notebook)
    except Exception as error:  # nbformat raises several unrelated types for broken files
        raise CourseSourceError(f"{path}: not a valid notebook ({error})") from error
    return notebook


def grade_id(cell) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def without_solution_markers(source: str) -> str:
    """The code of a solution cell as the reference answer: the `### BEGIN/END SOLUTION` lines removed."""
    return "\n".join(line for line in source.splitlines() if not SOLUTION_MARKER.match(line))


def embed_figures(notebook) -> None:
    """Attach Grafiken/NAME.png (base64) to every markdown cell that refers to `attachment:NAME.png`."""
    for cell in notebook.cells:
        if cell.cell_type != "markdown":
            continue
        names = ATTACHMENT.findall(cell.source)
        attachments = {}
        for name in names:
            if not name.endswith(".png"):
                raise CourseSourceError(
                    f"attachment:{name}: attach the PNG rendering (attachment:NAME.png); JupyterLab does not "
                    "render SVG attachments (jupyterlab#10464)"
                )
            try:
                data = embeddable_png(FIGURES / name)
            except FigureError as error:
                raise CourseSourceError(f"a cell refers to attachment:{name}: {error}") from error
            attachments[name] = {"image/png": base64.b64encode(data).decode("ascii")}
        if attachments:
            cell["attachments"] = attachments
        else:
            cell.pop("attachments", None)


def provide_earlier_code(notebook, stage: str, definitions: dict[str, tuple[str, str]]) -> None:
    """Fill every `provided_<id>` cell with the code of cell <id> from an earlier stage."""
    for cell in notebook.cells:
        gid = grade_id(cell)
        if cell.cell_type != "code" or not gid or not gid.startswith(PROVIDED_PREFIX):
            continue
        source_id = gid[len(PROVIDED_PREFIX) :]
        if source_id not in definitions:
            raise CourseSourceError(f"{stage}: cell {gid} wants `{source_id}`, which no earlier stage defines")
        defining_stage, code = definitions[source_id]
        cell.source = (
            f"# Provided: the reference code of `{source_id}` from notebook {defining_stage} (read-only).\n{code}"
        )


def synced_sources() -> dict[Path, str]:
    """The solution notebooks as they should be after syncing, as JSON text, keyed by path."""
    definitions: dict[str, tuple[str, str]] = {}
    result = {}
    for stage in STAGES:
        path = solution_notebook(stage)
        notebook = read_notebook(path)
        embed_figures(notebook)
        provide_earlier_code(notebook, stage, definitions)
        for cell in notebook.cells:
            gid = grade_id(cell)
            if cell.cell_type == "code" and gid and not gid.startswith(PROVIDED_PREFIX):
                definitions.setdefault(gid, (stage, without_solution_markers(cell.source)))
        result[path] = nbformat.writes(notebook) + "\n"
    return result


def sync_sources() -> list[Path]:
    """Write the synced solution notebooks; returns the files that changed."""
    changed = []
    for path, text in synced_sources().items():
        if path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            changed.append(path)
    return changed


def generate(release_dir: Path) -> None:
    """Generate the student notebooks of every stage into release_dir/<stage>/ with nbgrader."""
    with tempfile.TemporaryDirectory() as scratch:
        db_url = f"sqlite:///{Path(scratch) / 'gradebook.db'}"
        for stage in STAGES:
            run_nbgrader(
                "generate_assignment",
                stage,
                "--force",
                "--log-level=WARN",
                f"--CourseDirectory.release_directory={release_dir}",
                f"--CourseDirectory.db_url={db_url}",
                cwd=ROOT,
            )


def drift() -> list[str]:
    """What differs from a fresh build: unsynced solutions and student notebooks unlike nbgrader's output."""
    problems = [
        f"{path.relative_to(ROOT)} is not synced (figures or provided code)"
        for path, text in synced_sources().items()
        if path.read_text(encoding="utf-8") != text
    ]
    with tempfile.TemporaryDirectory() as scratch:
        fresh = Path(scratch) / "release"
        generate(fresh)
        expected = {p.relative_to(fresh) for p in fresh.rglob("*") if p.is_file()}
        committed = (
            {p.relative_to(NOTEBOOKS) for p in NOTEBOOKS.rglob("*") if p.is_file()} if NOTEBOOKS.is_dir() else set()
        )
        for name in sorted(expected | committed):
            if name not in committed:
                problems.append(f"notebooks/{name} is missing")
            elif name not in expected:
                problems.append(f"notebooks/{name} is not generated from solutions/")
            elif (fresh / name).read_bytes() != (NOTEBOOKS / name).read_bytes():
                problems.append(f"notebooks/{name} differs from what nbgrader generates from solutions/")
    return problems


def release() -> list[Path]:
    """Sync the solutions, then regenerate notebooks/ from them. Returns the solution files that changed."""
    changed = sync_sources()
    generate(NOTEBOOKS)
    return changed
