"""Build a student's submission: the released notebook with every stub filled in.

The stub of the catalog entry's cell gets the entry's code; every other exercise of the notebook gets the
reference answer from solutions/, so that only the entry's answer can lose points.
"""

import re
import textwrap
from pathlib import Path

import nbformat

from autograder.course import solution_notebook, student_notebook

STUB = re.compile(r"^([ \t]*)# YOUR CODE HERE\n[ \t]*raise NotImplementedError\(\)[ \t]*$", re.M)
REGION = re.compile(r"^[ \t]*### BEGIN SOLUTION[ \t]*\n(.*?)^[ \t]*### END SOLUTION[ \t]*$", re.M | re.S)
DEF = re.compile(r"^[ \t]*def (\w+)\(", re.M)


def _grade_id(cell) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def region_names(source: str, cell_id: str) -> list[str]:
    """Name of each solution region of a cell: the function it sits in, or the cell's grade_id."""
    names = []
    for region in REGION.finditer(source):
        defs = DEF.findall(source[: region.start()])
        names.append(defs[-1] if defs else cell_id)
    return names


def reference_answers(stage: str) -> dict[str, dict[str, str]]:
    """{grade_id: {region name: reference code (dedented)}} of the solution cells of a stage."""
    answers = {}
    for cell in nbformat.read(solution_notebook(stage), as_version=4).cells:
        gid = _grade_id(cell)
        if cell.cell_type == "code" and gid and REGION.search(cell.source):
            codes = [textwrap.dedent(m.group(1)) for m in REGION.finditer(cell.source)]
            answers[gid] = dict(zip(region_names(cell.source, gid), codes))
    return answers


def _fill(source: str, codes: list[str]) -> str:
    """Replace the stubs of `source`, in order, by `codes`, each indented like its stub."""
    stubs = list(STUB.finditer(source))
    if len(stubs) != len(codes):
        raise ValueError(f"the cell has {len(stubs)} stubs, {len(codes)} answers were given")
    pieces, last = [], 0
    for stub, code in zip(stubs, codes):
        body = textwrap.indent(textwrap.dedent(code).strip("\n"), stub.group(1), lambda line: True)
        pieces += [source[last : stub.start()], body]
        last = stub.end()
    return "".join(pieces + [source[last:]])


def build(stage: str, cell_id: str, code, answers: dict | None = None) -> nbformat.NotebookNode:
    """The released notebook of `stage`, with `code` in cell `cell_id` and reference answers elsewhere.

    code: a string (the cell has one stub) or {region name: code} (other regions keep the reference)."""
    answers = reference_answers(stage) if answers is None else answers
    if cell_id not in answers:
        raise KeyError(f"{stage} has no solution cell {cell_id!r} (it has {', '.join(answers)})")
    notebook = nbformat.read(student_notebook(stage), as_version=4)
    for cell in notebook.cells:
        gid = _grade_id(cell)
        if gid not in answers:
            continue
        regions = dict(answers[gid])
        if gid == cell_id:
            if isinstance(code, str):
                if len(regions) != 1:
                    raise ValueError(f"{stage}/{cell_id} has regions {list(regions)}: give a dict")
                code = {next(iter(regions)): code}
            unknown = set(code) - set(regions)
            if unknown:
                raise KeyError(f"{stage}/{cell_id} has no region {sorted(unknown)} (it has {list(regions)})")
            regions.update(code)
        cell.source = _fill(cell.source, list(regions.values()))
    return notebook


def write(notebook, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, path)
    return path
