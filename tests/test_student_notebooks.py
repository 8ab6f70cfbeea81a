"""The student notebooks: generated from solutions/, free of answers and hidden tests, runnable."""

import ast
import copy
import re
import textwrap

import pytest
from conftest import nbgrader_meta, read

from autograder.course import STAGES, solution_notebook, student_notebook
from autograder.release.execute import execute_notebook
from autograder.release.generate import drift

SOLUTION_REGION = re.compile(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", re.S)
HIDDEN_REGION = re.compile(r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS", re.S)


def meaningful_lines(text):
    """Lines that give an answer away: not blank, not a bare comment, not just punctuation."""
    return {
        line.strip()
        for line in text.splitlines()
        if line.strip() and not line.strip().startswith("#") and len(line.strip()) > 3
    }


def test_notebooks_are_exactly_what_nbgrader_generates_from_solutions():
    assert drift() == []


@pytest.mark.parametrize("stage", STAGES)
def test_student_notebook_holds_no_solution_and_no_hidden_test(stage):
    secret, public = set(), set()
    for cell in read(solution_notebook(stage)).cells:
        regions = SOLUTION_REGION.findall(cell.source) + HIDDEN_REGION.findall(cell.source)
        for region in regions:
            secret |= meaningful_lines(region)
        public |= meaningful_lines(HIDDEN_REGION.sub("", SOLUTION_REGION.sub("", cell.source)))
    secret -= public  # a line also shown outside the answers (a hint, a demo) gives nothing away
    assert secret, "the solution notebook has no solution regions"
    for cell in read(student_notebook(stage)).cells:
        gid = nbgrader_meta(cell).get("grade_id", "")
        assert "BEGIN SOLUTION" not in cell.source and "BEGIN HIDDEN TESTS" not in cell.source
        if gid.startswith("provided_"):
            continue  # earlier stages' reference code, given on purpose
        leaked = meaningful_lines(cell.source) & secret
        assert not leaked, f"{stage}: cell {gid} shows answer lines {sorted(leaked)}"


@pytest.mark.parametrize("stage", STAGES)
def test_every_exercise_is_a_stub_or_blank_answer(stage):
    for cell in read(student_notebook(stage)).cells:
        meta = nbgrader_meta(cell)
        if not meta.get("solution"):
            continue
        if cell.cell_type == "code":
            assert "raise NotImplementedError()" in cell.source, f"{stage}: {meta['grade_id']} has no stub"
        else:
            assert cell.source.strip() == "YOUR ANSWER HERE", f"{stage}: {meta['grade_id']} is not blank"


def names_assigned_at_top_level(source):
    names = set()
    for node in ast.parse(source).body:
        targets = node.targets if isinstance(node, ast.Assign) else []
        for target in targets:
            for element in ast.walk(target):
                if isinstance(element, ast.Name):
                    names.add(element.id)
    return names


@pytest.mark.parametrize("stage", STAGES)
def test_blank_notebook_runs_and_stubs_raise_not_implemented(stage):
    """Executed as handed out: provided cells run; every failure is a stub's NotImplementedError, or a
    NameError for a variable that a cell stopped by a stub would have set."""
    path = student_notebook(stage)
    notebook = execute_notebook(read(path), path.parent, allow_errors=True)
    solution_sources = {nbgrader_meta(c).get("grade_id"): c.source for c in read(solution_notebook(stage)).cells}
    unset = set()
    stub_errors = 0
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        meta = nbgrader_meta(cell)
        errors = [o for o in cell.outputs if o.output_type == "error"]
        gid = meta.get("grade_id") or ""
        if (
            gid == "setup"
            or gid.startswith("provided_")
            or (meta.get("locked") and not meta.get("grade") and cell.source.lstrip().startswith(("def ", "class ")))
        ):
            assert not errors, f"{stage}: provided cell {gid} fails: {errors[0].ename if errors else ''}"
        if not errors:
            continue
        error = errors[0]
        if error.ename == "NotImplementedError":
            stub_errors += 1
            unset |= names_assigned_at_top_level(solution_sources.get(gid) or cell.source)
        else:
            missing = re.search(r"name '(\w+)' is not defined", error.evalue)
            assert error.ename == "NameError" and missing and missing.group(1) in unset, (
                f"{stage}: cell {gid or cell.source[:40]!r} fails with {error.ename}: {error.evalue}"
            )
    assert stub_errors > 0


MODULES = {"torch", "math", "np", "F", "nn"}


def normalized(code):
    """Code text compared without spaces, with one kind of quote, and `self.`/`model.` dropped
    (a method's `self.WK(emb)` is the check's `model.WK(emb)`)."""
    return re.sub(r"\b(self|model)\.", "", re.sub(r"\s+", "", code).replace("'", '"'))


class _Anonymous(ast.NodeTransformer):
    """Every variable becomes `_` (modules keep their names): the same computation under other names."""

    def visit_Name(self, node):
        return node if node.id in MODULES else ast.copy_location(ast.Name("_", node.ctx), node)


def shape_of(node):
    """An expression as code with its variables anonymous: `torch.softmax(s / math.sqrt(A), -1)` and
    `torch.softmax(scores / math.sqrt(d), -1)` give the same text."""
    return normalized(ast.unparse(_Anonymous().visit(copy.deepcopy(node))))


def answer_expressions(solution_code):
    """What a solution region computes: the value of every statement of the region and every call or
    arithmetic inside it, as pairs (as written, with anonymous variables). Short pieces such as `model(x)`
    say nothing: a piece counts as written from 12 characters on, anonymous from 16 (and mostly not `_`)."""
    found = set()
    for node in ast.walk(ast.parse(textwrap.dedent(solution_code))):
        values = []
        if isinstance(node, (ast.Assign, ast.Return, ast.Expr, ast.AugAssign)) and node.value is not None:
            values.append(node.value)
        if isinstance(node, (ast.Call, ast.BinOp)):
            values.append(node)
        for value in values:
            text, shape = normalized(ast.unparse(value)), shape_of(value)
            found.add(
                (
                    text if len(text) >= 12 else None,
                    shape if len(shape) >= 16 and shape.count("_") < len(shape) / 4 else None,
                )
            )
    return found


def visible_checks(notebook):
    """The test cells a student sees: graded code cells, with their hidden part removed."""
    for cell in notebook.cells:
        meta = nbgrader_meta(cell)
        if cell.cell_type == "code" and meta.get("grade") and not meta.get("solution"):
            yield meta["grade_id"], HIDDEN_REGION.sub("", cell.source)


@pytest.mark.parametrize("stage", STAGES)
def test_visible_checks_do_not_compute_or_print_the_answers(stage):
    """A visible check diagnoses from recorded numbers and names mistakes in words: neither its code nor its
    messages hold the code of the same notebook's answers, under any variable names (code that the notebook's
    text shows as a hint is given on purpose)."""
    solution = read(solution_notebook(stage))
    found = set()
    for cell in solution.cells:
        for region in SOLUTION_REGION.findall(cell.source) if cell.cell_type == "code" else []:
            found |= answer_expressions(region)
    hints = normalized("\n".join(c.source for c in solution.cells if c.cell_type == "markdown"))
    found = {(text, shape) for text, shape in found if not (text and text in hints)}
    written = {text for text, _ in found if text}
    anonymous = {shape for _, shape in found if shape}
    assert written or anonymous, f"{stage}: no answer expressions found"
    for grade_id, source in visible_checks(read(student_notebook(stage))):
        text = normalized(source)
        shapes = {shape_of(node) for node in ast.walk(ast.parse(source)) if isinstance(node, ast.expr)}
        leaked = sorted(code for code in written if code in text) + sorted(anonymous & shapes)
        assert not leaked, f"{stage}: the visible check {grade_id} holds answer code {leaked}"


@pytest.mark.parametrize("stage", STAGES)
def test_code_hints_are_folded_under_a_hint_in_words(stage):
    """A student can try first: the hint in words is shown, the hints with code are in <details> blocks."""
    for cell in read(student_notebook(stage)).cells:
        if cell.cell_type != "markdown" or not ("**Hint" in cell.source or "<details>" in cell.source):
            continue
        source = cell.source
        assert source.count("<details>") == source.count("</details>"), (
            f"{stage}: unbalanced <details> in {source[:60]!r}"
        )
        words = source.find("**Hint in words:**")
        assert words >= 0, f"{stage}: hints without a hint in words first: {source[:80]!r}"
        first_fold = source.find("<details>")
        shown = source[words : first_fold if first_fold >= 0 else None]
        assert not re.search(r"`[^`]*\b(torch|F|np)\.\w+\(", shown), (
            f"{stage}: a hint in words shows a torch call: {shown[:120]!r}"
        )
        for number, block in enumerate(re.findall(r"<details>(.*?)</details>", source, re.S), 1):
            assert f"<summary>Hint {number}</summary>\n\n" in block, (
                f"{stage}: hint {number} is not titled 'Hint {number}'"
            )
