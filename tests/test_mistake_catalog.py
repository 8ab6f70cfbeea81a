"""The catalog of student answers (tests/catalog), graded through nbgrader: every mistake loses the points
of the tests it should and the feedback names it; every correct variant scores full marks.

`python -m tests.catalog` prints the same results as a table (mistake -> test -> message)."""

import os

import nbformat
import pytest
from catalog import ENTRIES
from catalog.grading import grade
from catalog.submission import STUB, build

# The mistakes the issue names, each with the catalog entry that stands for it.
REQUIRED_MISTAKES = [
    "randint_upper_bound_9",
    "compares_wrong_digit",
    "ties_counted_as_more",
    "labels_integer",
    "labels_shape_N",
    "one_hot_without_num_classes",
    "ignores_the_bias",
    "swapped_keys_and_values",
    "softmax_over_query_axis",
    "sigmoid_instead_of_softmax",
    "no_scaling",
    "multiplies_by_sqrt_d",
    "divides_by_d",
    "divides_by_sequence_length",
    "model_divides_by_sqrt_embed_dim",
    "transposed_einsum_subscripts",
    "hard_coded_single_query",
    "values_returns_weighted_sum",
    "forward_skips_the_mlp",
    "forward_squeezes_the_output",
    "train_without_zero_grad",
]


def test_catalog_covers_every_stage_and_the_required_mistakes():
    mistakes = [e for e in ENTRIES if e.kind == "mistake"]
    assert len(mistakes) >= 40
    assert len([e for e in ENTRIES if e.kind == "correct"]) >= 10
    assert {e.stage for e in mistakes} == {
        "01_data",
        "02_embedding",
        "03_keys_values",
        "04_einsum_attention",
        "05_module",
        "06_training",
    }
    names = {e.name for e in mistakes}
    assert [name for name in REQUIRED_MISTAKES if name not in names] == []
    assert len({e.name for e in ENTRIES}) == len(ENTRIES), "entry names are student ids: they must be unique"


@pytest.mark.parametrize("entry", ENTRIES[::7], ids=lambda e: e.name)
def test_a_submission_holds_the_entry_code_and_no_stub(entry):
    notebook = build(entry.stage, entry.cell, entry.code)
    sources = "\n".join(cell.source for cell in notebook.cells)
    codes = entry.code.values() if isinstance(entry.code, dict) else [entry.code]
    for code in codes:
        first_line = code.strip().splitlines()[0].strip()
        assert first_line in sources
    assert not STUB.search(sources)
    nbformat.validate(notebook)


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    """Every entry autograded by nbgrader (one run per stage, two stages at a time)."""
    return grade(ENTRIES, tmp_path_factory.mktemp("catalog"), jobs=min(2, os.cpu_count() or 1))


@pytest.mark.slow
@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: f"{e.stage[:2]}-{e.kind}-{e.name}")
def test_grading_treats_the_entry_as_the_catalog_says(outcomes, entry):
    problems = outcomes[entry.name].problems()
    assert not problems, f"{entry.kind} {entry.name}:\n" + "\n".join(problems)
