"""The feedback page a student opens on a laptop without internet: the maths is rendered (MathML, no MathJax
from a CDN), the pipeline figure fits the page, and hints stay folded.

The page is made by the grader (nbgrader's generate_feedback with the course configuration), then opened from disk in
headless Chromium with every network request blocked; a screenshot is saved in tests/artifacts/."""

import re
from pathlib import Path

import pytest
from browser_lab import chromium_path, missing_browser_reason

from autograder.course import STAGES, solution_notebook
from autograder.grading.core import grade_notebook
from autograder.grading.feedback_page import render_maths

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
STAGE = "04_einsum_attention"  # a formula, inline maths, the pipeline figure and hints


def test_maths_becomes_mathml_and_code_stays_as_it_is():
    text = "Divide by $\\sqrt{d}$, cost `x = $5$`:\n\n$$\nr = \\sum_j w_j v_j\n$$\n"
    rendered = render_maths(text)
    assert "$" not in rendered.replace("`x = $5$`", "")
    assert "`x = $5$`" in rendered
    assert rendered.count("<math") == 2 and 'display="block"' in rendered
    assert "<msqrt>" in rendered


def test_every_formula_of_the_course_converts():
    """latex2mathml knows every command the notebooks use (an unknown one would stay raw TeX offline)."""
    import nbformat

    for stage in STAGES:
        for cell in nbformat.read(solution_notebook(stage), as_version=4).cells:
            if cell.cell_type == "markdown":
                left = render_maths(cell.source)
                leftover = re.sub(r"`[^`]*`", "", left)
                assert "$" not in leftover, f"{stage}: maths left as TeX in {cell.source[:80]!r}"


@pytest.fixture(scope="module")
def feedback_page(tmp_path_factory):
    """The page the grader gives a student who handed in the reference answers (grade_notebook)."""
    result = grade_notebook(solution_notebook(STAGE), STAGE)
    page = tmp_path_factory.mktemp("feedback") / f"{STAGE}.html"
    page.write_text(result.feedback_html, encoding="utf-8")
    return page


@pytest.mark.slow
def test_feedback_page_has_no_raw_maths_and_styles_its_figures(feedback_page):
    page = feedback_page.read_text(encoding="utf-8")
    assert "<math" in page and 'display="block"' in page
    body = re.sub(r"<script.*?</script>", "", page, flags=re.S)
    assert "$$" not in body and "\\sqrt{d}" not in body
    assert "max-width: 100%" in page
    assert "<details><summary>Hint 1</summary>" in page


@pytest.mark.slow
@pytest.mark.skipif(missing_browser_reason() is not None, reason=str(missing_browser_reason()))
def test_feedback_page_offline_in_chromium(feedback_page):
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1000, "height": 900})
            blocked = []
            page.route(re.compile(r"^https?://"), lambda route: (blocked.append(route.request.url), route.abort()))
            page.goto(feedback_page.as_uri())
            page.wait_for_load_state("load")
            figure = page.locator("img[alt^='The attention pipeline']").first
            figure.scroll_into_view_if_needed()
            box = figure.bounding_box()
            content_right = page.evaluate("document.querySelector('#notebook-container').getBoundingClientRect().right")
            formula = page.locator("math[display='block']").first
            formula_box = formula.bounding_box()
            formula.scroll_into_view_if_needed()
            page.screenshot(path=str(ARTIFACTS / "feedback_offline_formula.png"))
            figure.scroll_into_view_if_needed()
            page.screenshot(path=str(ARTIFACTS / "feedback_offline_figure.png"))
            hint_open = page.locator("details").first.evaluate("d => d.open")
        finally:
            browser.close()
    assert box is not None and box["width"] > 300, "the pipeline figure is not shown"
    assert box["x"] + box["width"] <= content_right + 1, f"the figure ({box}) is wider than the page ({content_right})"
    assert formula_box is not None and formula_box["height"] > 20, "the formula has no height: MathML not rendered"
    assert not hint_open, "a hint is unfolded on the feedback page"
