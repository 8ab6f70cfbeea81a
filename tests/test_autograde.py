"""The solutions and the blank student notebooks, graded by real nbgrader autograding."""

import pytest

from autograder.course import STAGES


def by_student(scores, student):
    [score] = [s for s in scores if s.student == student]
    return score


@pytest.mark.parametrize("stage", STAGES)
def test_solution_scores_full_marks(graded_course, stage):
    _, scores = graded_course
    score = by_student(scores[stage], "solution")
    assert score.max_score > 0
    assert score.failed_tests == ()
    assert score.score == score.max_score


@pytest.mark.parametrize("stage", STAGES)
def test_blank_notebook_scores_zero(graded_course, stage):
    _, scores = graded_course
    score = by_student(scores[stage], "blank")
    assert score.score == 0
    assert score.max_score == by_student(scores[stage], "solution").max_score


@pytest.mark.parametrize("stage", STAGES)
def test_every_stage_has_a_written_answer_for_the_formgrader(graded_course, stage):
    _, scores = graded_course
    assert by_student(scores[stage], "solution").manual_max >= 1


def test_feedback_hides_the_hidden_tests(graded_course):
    workspace, _ = graded_course
    workspace.nbgrader("generate_feedback", "04_einsum_attention", "--force", "--student=solution")
    [html] = (workspace.root / "feedback" / "solution" / "04_einsum_attention").glob("*.html")
    text = html.read_text(encoding="utf-8")
    assert "attention_weights" in text  # the visible parts are there
    assert "BEGIN HIDDEN TESTS" not in text
    assert "loop_attention_weights" not in text  # a name that only the hidden tests use
    assert "data:image/png;base64," in text  # the pipeline figure travels inside the page
