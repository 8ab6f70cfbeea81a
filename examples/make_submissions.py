"""Regenerate the example class in examples/submissions/ (what `make grade` grades).

Each student is a folder of notebooks named as in notebooks/, built from the handed-out notebooks
(notebooks/) and the instructor's answers (solutions/):

  ada  perfect: every answer as in the instructor notebooks
  bob  partial: 02 one-hot without num_classes, 04 scores not divided by sqrt(d); 05 and later not handed in
  cyd  blank: the notebooks exactly as handed out
  dan  broken: 01 a syntax error, 02 an exception, 03 not a notebook at all, 04 calls sys.exit() (harmless),
       05 calls os._exit() (the kernel dies); 06 and later not handed in; an extra notes.txt
  eve  tampering: 01 correct; 02 wrong one_hot_embed plus `torch.allclose = lambda *a, **k: True`; no more

Run after changing solutions/ or notebooks/:  .venv/bin/python examples/make_submissions.py
"""

import shutil
import sys
from pathlib import Path

import nbformat
from nbformat import v4

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from autograder.course import STAGES, solution_notebook, student_notebook  # noqa: E402
from autograder.release.generate import without_solution_markers  # noqa: E402

OUT = Path(__file__).resolve().parent / "submissions"


def grade_id(cell) -> str | None:
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def answered(stage: str):
    """The handed-out notebook of `stage` with every answer cell filled in from the instructor notebook."""
    answers = {
        grade_id(c): without_solution_markers(c.source)
        for c in nbformat.read(solution_notebook(stage), as_version=4).cells
        if c.metadata.get("nbgrader", {}).get("solution")
    }
    notebook = nbformat.read(student_notebook(stage), as_version=4)
    for cell in notebook.cells:
        if cell.metadata.get("nbgrader", {}).get("solution"):
            cell.source = answers[grade_id(cell)]
    return notebook


def blank(stage: str):
    return nbformat.read(student_notebook(stage), as_version=4)


def edit(notebook, gid: str, old: str, new: str):
    """Replace `old` by `new` in the cell `gid`; fails loudly when the solutions changed."""
    [cell] = [c for c in notebook.cells if grade_id(c) == gid]
    if old not in cell.source:
        raise SystemExit(f"examples/make_submissions.py: `{old}` is no longer in cell {gid}; update this script")
    cell.source = cell.source.replace(old, new)
    return notebook


def add_after(notebook, gid: str, source: str):
    """Insert a student's own code cell after the cell `gid`."""
    index = next(i for i, c in enumerate(notebook.cells) if grade_id(c) == gid)
    cell = v4.new_code_cell(source)
    cell.id = f"added-{gid}"  # a fixed id: regenerating gives the same file
    notebook.cells.insert(index + 1, cell)
    return notebook


def students() -> dict[str, dict[str, object]]:
    """{student: {file name: notebook or bytes}}."""
    return {
        "ada": {f"{stage}.ipynb": answered(stage) for stage in STAGES},
        "bob": {
            "01_data.ipynb": answered("01_data"),
            "02_embedding.ipynb": edit(
                answered("02_embedding"), "one_hot_embed", "F.one_hot(x, num_classes=10)", "F.one_hot(x)"
            ),
            "03_keys_values.ipynb": answered("03_keys_values"),
            "04_einsum_attention.ipynb": edit(
                answered("04_einsum_attention"), "attention_weights", " / math.sqrt(att_dim)", ""
            ),
        },
        "cyd": {f"{stage}.ipynb": blank(stage) for stage in STAGES},
        "dan": {
            "01_data.ipynb": edit(
                answered("01_data"), "make_batch", "torch.randint(0, 10, (N, 10))", "torch.randint(0, 10, (N, 10)"
            ),
            "02_embedding.ipynb": edit(
                answered("02_embedding"),
                "embedding_demo",
                "torch.nn.Embedding(10, embed_dim)",
                "torch.nn.Embedding(10, embed_dim, size=3)",
            ),
            "03_keys_values.ipynb": b"I could not open Jupyter, so here are my answers as text.\n",
            "04_einsum_attention.ipynb": add_after(
                answered("04_einsum_attention"), "attention_weights", "import sys\nsys.exit('that is enough for today')"
            ),
            "05_module.ipynb": add_after(answered("05_module"), "AttentionModel", "import os\nos._exit(1)"),
            "notes.txt": b"Sorry, notebook 6 is not finished.\n",
        },
        "eve": {
            "01_data.ipynb": answered("01_data"),
            "02_embedding.ipynb": add_after(
                edit(
                    answered("02_embedding"),
                    "one_hot_embed",
                    "return linear(one_hot)",
                    "return torch.zeros(x.shape[0], x.shape[1], linear.out_features)",
                ),
                "one_hot_embed",
                "torch.allclose = lambda *args, **kwargs: True  # every comparison passes",
            ),
        },
    }


def write(out: Path = OUT) -> Path:
    """Write the class to `out` (replacing it)."""
    if out.exists():
        shutil.rmtree(out)
    for student, files in students().items():
        folder = out / student
        folder.mkdir(parents=True)
        for name, content in files.items():
            if isinstance(content, bytes):
                (folder / name).write_bytes(content)
            else:
                nbformat.write(content, folder / name)
    return out


def main() -> int:
    write(OUT)
    print(f"wrote {sum(1 for _ in OUT.rglob('*.*'))} files to {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
