"""Reading a student's notebook whatever state it is in, and putting the course's cells back in order.

`read_submission(path)` accepts any nbformat version (v3 is converted), a byte-order mark, cells whose
source is a list or whose fields are missing; it keeps only what grading needs (cell type, source,
nbgrader metadata, markdown attachments) and raises UnreadableNotebook for anything that is not a notebook.

`normalise(notebook, release)` makes the submission gradable against the released notebook (nbgrader's own
student version, `release`): every cell that carries a grade_id of the release gets the release's nbgrader
metadata back (a student cannot unlock a test, change its points or its type); a second cell with the
same grade_id, or a grade_id the release does not have, loses its nbgrader metadata and becomes an
ordinary student cell; every locked or graded cell that was deleted is put back after the cell that
precedes it in the release. nbgrader then restores the source of every locked cell from the gradebook, so
edited tests run as written by the instructor. The kernelspec is the release's.
"""

import copy
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbformat import v4

from autograder.grading.cells import is_locked

MAX_NOTEBOOK_BYTES = 50 * 1024 * 1024
ATTACHMENT = re.compile(r"attachment:([^\s)\"'>]+)")


class UnreadableNotebook(ValueError):
    """The file is not a Jupyter notebook (the message says why, for the grade table)."""


def _text(source) -> str:
    if isinstance(source, list):
        return "".join(str(part) for part in source)
    return source if isinstance(source, str) else ""


def _clean_cell(cell) -> nbformat.NotebookNode:
    """A fresh v4 cell with the type, source and grading metadata of `cell` (a dict of any shape)."""
    kind = cell.get("cell_type")
    source = _text(cell.get("source", cell.get("input", "")))
    metadata = cell.get("metadata") if isinstance(cell.get("metadata"), dict) else {}
    keep = {}
    if isinstance(metadata.get("nbgrader"), dict):
        keep["nbgrader"] = copy.deepcopy(metadata["nbgrader"])
    if kind == "code":
        new = v4.new_code_cell(source, metadata=keep)
    elif kind == "raw":
        new = v4.new_raw_cell(source, metadata=keep)
    else:
        new = v4.new_markdown_cell(source, metadata=keep)
        if isinstance(cell.get("attachments"), dict):
            new["attachments"] = copy.deepcopy(cell["attachments"])
    return new


def read_submission(path: Path) -> tuple[nbformat.NotebookNode, list[str]]:
    """The notebook at `path` as a clean v4 notebook, and notes about what had to be repaired."""
    notes = []
    try:
        size = path.stat().st_size
        if size > MAX_NOTEBOOK_BYTES:
            raise UnreadableNotebook(f"the file is too large for a notebook ({size // 1024 // 1024} MB)")
        raw = path.read_bytes()
    except OSError as error:
        raise UnreadableNotebook(f"the file cannot be read ({error.strerror})") from error
    if not raw.strip():
        raise UnreadableNotebook("the file is empty")
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as error:
        raise UnreadableNotebook("not a notebook: the file is not text (UTF-8)") from error
    except json.JSONDecodeError as error:
        raise UnreadableNotebook(f"not a notebook: invalid JSON at line {error.lineno}") from error
    if not isinstance(data, dict) or not isinstance(data.get("cells", data.get("worksheets")), list):
        raise UnreadableNotebook("not a notebook: the JSON holds no cells")
    version = data.get("nbformat")
    cells = data.get("cells")
    if version != 4 or cells is None:
        try:
            cells = nbformat.reads(json.dumps(data), as_version=4).cells
        except Exception as error:  # nbformat's converters raise many types for odd files
            raise UnreadableNotebook(f"not a notebook: nbformat {version} that cannot be converted") from error
        notes.append(f"converted from notebook format {version}")
    notebook = v4.new_notebook(cells=[_clean_cell(cell) for cell in cells if isinstance(cell, dict)])
    kernelspec = data.get("metadata", {}).get("kernelspec", {}) if isinstance(data.get("metadata"), dict) else {}
    name = kernelspec.get("name") if isinstance(kernelspec, dict) else None
    if name and name != "python3":
        notes.append(f"kernel {name!r} replaced by python3")
    return notebook, notes


def _grade_id(cell) -> str | None:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return meta.get("grade_id") if isinstance(meta, dict) else None


def owned_by_course(cell) -> bool:
    """Locked cells and graded cells: restored from the release when deleted."""
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return bool(meta.get("locked") or meta.get("grade"))


@dataclass
class Normalised:
    notebook: nbformat.NotebookNode
    notes: list[str] = field(default_factory=list)

    def student_cells(self) -> list[bool]:
        """Per cell: True when its code is the student's (nbgrader does not restore it from the gradebook)."""
        return [not is_locked(c) for c in self.notebook.cells]


def _marks(meta) -> dict:
    """The nbgrader metadata that decides grading (not checksums or schema versions)."""
    meta = meta if isinstance(meta, dict) else {}
    return {key: meta.get(key) for key in ("grade", "grade_id", "locked", "points", "solution", "task")}


def _with_type(cell, kind: str):
    if cell.cell_type == kind:
        return cell
    maker = {"code": v4.new_code_cell, "markdown": v4.new_markdown_cell, "raw": v4.new_raw_cell}[kind]
    return maker(cell.source, metadata=cell.metadata)


def normalise(notebook, release) -> Normalised:
    """The submission made gradable against `release` (see the module docstring)."""
    template = {}
    for cell in release.cells:
        gid = _grade_id(cell)
        if gid:
            template[gid] = cell
    result = Normalised(
        v4.new_notebook(
            metadata={
                key: copy.deepcopy(release.metadata[key])
                for key in ("kernelspec", "language_info")
                if key in release.metadata
            }
        )
    )
    seen, dropped, repaired = set(), [], []
    for cell in notebook.cells:
        gid = _grade_id(cell)
        if gid in template and gid not in seen:
            seen.add(gid)
            source_cell = template[gid]
            expected = copy.deepcopy(source_cell.metadata["nbgrader"])
            if _marks(cell.metadata.get("nbgrader")) != _marks(expected) or cell.cell_type != source_cell.cell_type:
                repaired.append(gid)
            cell = _with_type(cell, source_cell.cell_type)
            cell.metadata["nbgrader"] = expected
        elif "nbgrader" in cell.metadata:
            if gid:
                dropped.append(gid)
            del cell.metadata["nbgrader"]
        result.notebook.cells.append(cell)
    restored = _restore_missing(result.notebook.cells, release.cells, seen)
    _repair_attachments(result.notebook.cells, release.cells)
    if repaired:
        result.notes.append(f"grading marks of {len(repaired)} cell(s) reset ({', '.join(repaired)})")
    if dropped:
        result.notes.append(
            f"{len(dropped)} cell(s) with a duplicate or unknown grade_id treated as your own "
            f"({', '.join(sorted(set(dropped)))})"
        )
    if restored:
        result.notes.append(f"deleted course cell(s) put back: {', '.join(restored)}")
    return result


def _repair_attachments(cells: list, release_cells: list) -> None:
    """Markdown that shows `attachment:NAME` without carrying it (a notebook converted from format 3, a
    copied cell) gets the release's attachment of that name, or the reference is made harmless (nbconvert
    refuses to render a missing attachment). In place."""
    known = {}
    for cell in release_cells:
        known.update(cell.get("attachments", {}) or {})
    for cell in cells:
        if cell.cell_type != "markdown":
            continue
        attachments = cell.get("attachments") or {}
        for name in set(ATTACHMENT.findall(cell.source)):
            if name in attachments:
                continue
            if name in known:
                attachments[name] = copy.deepcopy(known[name])
            else:
                cell.source = cell.source.replace(f"attachment:{name}", f"missing-attachment-{name}")
        if attachments:
            cell["attachments"] = attachments


def _restore_missing(cells: list, release_cells: list, present: set[str]) -> list[str]:
    """Insert the release's locked/graded cells that are missing, each after its predecessor. In place."""
    restored = []
    anchor = -1  # index in `cells` after which the next missing cell goes
    for release_cell in release_cells:
        gid = _grade_id(release_cell)
        if not gid:
            continue
        if gid in present:
            anchor = next(i for i, c in enumerate(cells) if _grade_id(c) == gid)
        elif owned_by_course(release_cell):
            cells.insert(anchor + 1, _clean_cell(release_cell))
            anchor += 1
            restored.append(gid)
    return restored
