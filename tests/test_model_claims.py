"""What the notebooks' text says about trained models, checked on the models that the notebooks train, for
several seeds: a student who changes the seed (or whose numbers differ) must still find the text true.

The code is the solution notebooks' own (model, data, training loop), run without plotting."""

import math

import matplotlib
import numpy as np
import pytest
import torch
from conftest import nbgrader_meta, read

from autograder.course import solution_notebook

matplotlib.use("agg")
SEEDS = [0, 1, 2, 3]


def notebook_code(stage, grade_ids):
    """The namespace after running the cells `grade_ids` of a solution notebook, in notebook order."""
    namespace = {"__name__": "notebook"}
    for cell in read(solution_notebook(stage)).cells:
        if cell.cell_type == "code" and nbgrader_meta(cell).get("grade_id") in grade_ids:
            exec(compile(cell.source, f"{stage}:{nbgrader_meta(cell)['grade_id']}", "exec"), namespace)
    return namespace


@pytest.fixture(scope="module")
def training():
    return notebook_code(
        "06_training", {"setup", "provided_make_batch", "provided_AttentionModel", "provided_plot", "train"}
    )


@pytest.fixture(scope="module")
def beyond():
    return notebook_code(
        "07_beyond",
        {
            "setup",
            "provided_AttentionModel",
            "tools",
            "make_xor_batch",
            "MultiQueryAttentionModel",
            "two_before_four",
            "make_order_batch",
            "exact_baseline",
            "PositionalAttentionModel",
        },
    )


def readout(model, x):
    """The attention-weighted value of every sequence: int64 (N, M) -> float (N,)."""
    emb = model.embed(x)
    return (model.attention(emb) @ model.values(emb))[:, 0, 0]


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
def test_06_the_trained_model_does_what_the_answer_and_07_say(training, seed):
    """06 (answer to the attention-plot question) and 07 Part 1: the query puts several times more weight
    on the 2s and 4s; their values have opposite signs (which one is positive depends on the run); one
    weighted value separates "more 2s" from the rest; a random sequence without 2s and 4s is labelled 0 (not
    every possible one: ten 9s fool the model of seed 0, which the answer says)."""
    torch.set_num_threads(1)
    model, losses = training["train"](seed=seed, plot_every=None)
    torch.manual_seed(1000 + seed)
    x = torch.randint(0, 10, (5000, 10))
    more_twos = (x == 2).sum(1) > (x == 4).sum(1)
    with torch.no_grad():
        weights = model.attention(model.embed(x))[:, 0, :]  # (N, 10)
        is_2_or_4 = (x == 2) | (x == 4)
        ratio = (weights[is_2_or_4].mean() / weights[~is_2_or_4].mean()).item()
        values = model.values(model.embed(torch.arange(10)[None]))[0, :, 0]  # (10,) value per digit
        r = readout(model, x)
        neither = x[~((x == 2) | (x == 4)).any(dim=1)]  # random, without 2s and 4s
        p_neither = model(neither)[:, 0]
    assert ratio > 2, f"seed {seed}: the 2s and 4s get only {ratio:.2f} times the weight of other digits"
    assert values[2] * values[4] < 0, (
        f"seed {seed}: the values of 2 ({values[2]:.2f}) and 4 ({values[4]:.2f}) have the same sign"
    )
    ones, zeros = r[more_twos], r[~more_twos]
    separated = ones.min() > zeros.max() if values[2] > values[4] else ones.max() < zeros.min()
    assert separated, f"seed {seed}: the weighted values of 'more 2s' and of the other sequences overlap"
    assert len(neither) > 300 and torch.all(p_neither < 0.5), (
        f"seed {seed}: a sequence without 2s and 4s is not labelled 0"
    )
    assert np.mean(losses[-100:]) < 0.05
    if seed == 0:  # the answer's example of an unusual sequence that fools the model of the notebook
        with torch.no_grad():
            assert model(torch.full((1, 10), 9)).item() > 0.5


@pytest.fixture(scope="module")
def beyond_runs(beyond):
    """The four trainings of 07 for every seed: {seed: (one, multi, blind, positional)}."""
    torch.set_num_threads(1)
    fit = beyond["fit"]
    runs = {}
    for seed in SEEDS:
        runs[seed] = (
            fit(beyond["AttentionModel"], beyond["make_xor_batch"], seed=seed)[0],
            fit(lambda: beyond["MultiQueryAttentionModel"](n_queries=4), beyond["make_xor_batch"], seed=seed)[0],
            fit(beyond["AttentionModel"], beyond["make_order_batch"], steps=1000, seed=seed)[0],
            fit(
                lambda: beyond["PositionalAttentionModel"](n_queries=1),
                beyond["make_order_batch"],
                steps=1000,
                seed=seed,
            )[0],
        )
    return runs


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
def test_07_what_the_text_says_about_each_training(beyond, beyond_runs, seed):
    one, multi, blind, positional = beyond_runs[seed]
    accuracy_on = beyond["accuracy_on"]
    torch.manual_seed(2000 + seed)
    X_xor, y_xor = beyond["make_xor_batch"](20000)
    X_order, y_order = beyond["make_order_batch"](100000)
    baseline = beyond["exact_order_blind_accuracy"]()
    # Part 1: "we measured about 78% (between 68% and 82% for other seeds)"; four queries learn it.
    one_accuracy = accuracy_on(one, X_xor, y_xor)
    assert 0.68 <= one_accuracy <= 0.82, f"seed {seed}: one query reaches {one_accuracy:.3f}"
    assert accuracy_on(multi, X_xor, y_xor) >= 0.95
    # Part 2: "the trained model lands on the baseline (within the sampling noise of about ±0.003)".
    blind_accuracy = accuracy_on(blind, X_order, y_order)
    assert abs(blind_accuracy - baseline) < 0.006, (
        f"seed {seed}: order-blind model {blind_accuracy:.4f}, baseline {baseline:.4f}"
    )
    # "The query now attends to the first 2 or 4 of each sequence".
    assert accuracy_on(positional, X_order, y_order) >= 0.97
    x = X_order[:5000]
    with torch.no_grad():
        weights = positional.attention(positional.embed_tokens(x))[:, 0, :]  # (N, M)
    is_2_or_4 = (x == 2) | (x == 4)
    rows = is_2_or_4.any(dim=1)
    first = is_2_or_4.float().argmax(dim=1)  # the first 2 or 4
    on_first = weights[rows.nonzero()[:, 0], first[rows]]
    assert on_first.mean() > 0.5, (
        f"seed {seed}: the first 2 or 4 gets only {on_first.mean():.2f} of the weight on average"
    )
    assert math.isfinite(on_first.mean().item())
