"""The student and instructor flows in JupyterLab, in headless Chromium.

A student opens the first notebook, types an answer and a written answer, runs all cells, reads the check,
presses nbgrader's Validate button, makes a mistake and reads what the check says; every notebook's pipeline
figure loads; a later notebook's plot renders. An instructor opens the formgrader, finds the assignment and a
submission, and grades a written answer. Every step leaves a screenshot in $BROWSER_ARTIFACTS (default
tests/artifacts/).

Without Chromium these tests skip with the reason; with CI=true they fail instead.
"""

import os
import re
from pathlib import Path

import nbformat
import pytest

from autograder.course import NOTEBOOKS, STAGES
from autograder.nbgrader_cli import run_nbgrader

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # the `browser` fixture says why: a skip locally, a failure in CI
    expect = sync_playwright = None
from browser_lab import (
    CHROMIUM_ARGS,
    LabServer,
    chromium_path,
    copy_course,
    missing_browser_reason,
    reference_answers,
    solved_notebook,
)

pytestmark = pytest.mark.slow

ARTIFACTS = Path(os.environ.get("BROWSER_ARTIFACTS") or Path(__file__).parent / "artifacts")
VIEWPORT = {"width": 1400, "height": 900}
SECOND = 1000  # Playwright counts milliseconds
LOAD = 180 * SECOND  # the machine may be busy: opening JupyterLab or a kernel can take long
RUN = 300 * SECOND  # running a whole notebook (torch import, plots)

FIRST = "01_data"
LATER = "04_einsum_attention"
STDERR = ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"  # errors and tracebacks
STUDENT = "ada"  # the student whose submission the instructor grades

CORRECT_MAKE_BATCH = """def make_batch(N):
    X = torch.randint(0, 10, (N, 10))
    y = ((X == 2).sum(dim=1) > (X == 4).sum(dim=1)).float()[:, None]
    return X, y"""
# The classic slip: randint's upper bound is exclusive, so this never draws a 9.
WRONG_MAKE_BATCH = CORRECT_MAKE_BATCH.replace("torch.randint(0, 10,", "torch.randint(0, 9,")
COMMENT = "Right share and the right baseline."
WRITTEN_ANSWER = (
    "About 0.36 of the sequences have label 1: ties (e.g. no 2 and no 4) count as 0. "
    "Always answering 0 is right about 64 % of the time, the baseline to beat."
)


@pytest.fixture(scope="module")
def browser():
    """Headless system Chromium; skips without it, fails without it when CI=true."""
    reason = missing_browser_reason()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true, so the browser tests must run, but: {reason}", pytrace=False)
        pytest.skip(reason)
    expect.set_options(timeout=LOAD)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def course(tmp_path_factory, browser):
    """A copy of the course where the instructor generated stage 1 (gradebook.db) and autograded one
    submission of student 'ada' (correct code, a written answer), with plain nbgrader commands."""
    root = copy_course(tmp_path_factory.mktemp("browser") / "course")
    run_nbgrader("generate_assignment", FIRST, "--force", "--log-level=WARN", cwd=root)
    answers = reference_answers(root / "solutions" / FIRST / f"{FIRST}.ipynb")
    answers["answer_label_share"] = WRITTEN_ANSWER
    submission = root / "submitted" / STUDENT / FIRST / f"{FIRST}.ipynb"
    submission.parent.mkdir(parents=True)
    nbformat.write(solved_notebook(root / "notebooks" / FIRST / f"{FIRST}.ipynb", answers), submission)
    run_nbgrader("autograde", FIRST, "--log-level=WARN", cwd=root)
    return root


@pytest.fixture(scope="module")
def lab(course, tmp_path_factory):
    with LabServer(course, tmp_path_factory.mktemp("lab-state")) as server:
        yield server


@pytest.fixture
def page(browser, lab, request):
    """A fresh browser tab; its last view is saved as ARTIFACTS/<test>-last.png (what a failure looked like)."""
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(LOAD)
    tab = context.new_page()
    tab.console_errors = []  # shown when an image is broken
    tab.on("console", lambda message: message.type == "error" and tab.console_errors.append(message.text[:300]))
    yield tab
    try:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        tab.screenshot(path=ARTIFACTS / f"{re.sub(r'[^A-Za-z0-9_-]+', '-', request.node.name).strip('-')}-last.png")
    finally:
        context.close()
        lab.shutdown_kernels()


class Screenshots:
    """Numbered screenshots of one flow: ARTIFACTS/<flow>-01-<step>.png, ... (old ones of the flow removed)."""

    def __init__(self, flow: str):
        self.flow = flow
        self.count = 0
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        for old in ARTIFACTS.glob(f"{flow}-*.png"):
            old.unlink()

    def take(self, target, step: str) -> Path:
        """Save a screenshot of `target` (a page, or a locator for one element)."""
        self.count += 1
        path = ARTIFACTS / f"{self.flow}-{self.count:02d}-{re.sub(r'[^a-z0-9]+', '-', step.lower()).strip('-')}.png"
        target.screenshot(path=path)
        return path


# ---- JupyterLab, the way a person uses it --------------------------------------------------------------


def cell_index(course: Path, stage: str, grade_id: str) -> int:
    """Position of the cell `grade_id` in the student notebook of `stage`."""
    notebook = nbformat.read(course / "notebooks" / stage / f"{stage}.ipynb", as_version=4)
    ids = [cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") for cell in notebook.cells]
    return ids.index(grade_id)


def open_notebook(page, lab: LabServer, stage: str):
    """Open notebooks/<stage>/<stage>.ipynb in a fresh JupyterLab workspace; returns the notebook panel
    once its kernel is idle."""
    page.goto(lab.url(f"lab/tree/notebooks/{stage}/{stage}.ipynb?reset"))
    panel = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")
    expect(panel.locator(".jp-Cell").first).to_be_visible(timeout=LOAD)
    expect(page.locator("#jp-main-statusbar")).to_contain_text("Python 3 (ipykernel) | Idle", timeout=LOAD)
    return panel


def cell(panel, index: int):
    return panel.locator(".jp-Cell").nth(index)


def type_into_cell(page, target, text: str) -> None:
    """Replace the text of a cell as a student does: click into it (double-click a rendered markdown cell),
    select all, type the new text."""
    target.scroll_into_view_if_needed()
    if "jp-MarkdownCell" in target.get_attribute("class"):
        target.locator(".jp-RenderedMarkdown").dblclick()
    target.locator(".cm-content").click()
    page.keyboard.press("Control+a")
    page.keyboard.insert_text(text)  # typed as one input, so the editor adds no auto-indent or brackets
    page.keyboard.press("Escape")  # back to command mode


def run_all(page) -> None:
    page.locator(".lm-MenuBar-item", has_text="Run").click()
    page.locator('.lm-Menu-item[data-command="runmenu:run-all"]').click()


def wait_until_done(page, panel) -> None:
    """Every queued cell has run (no `[*]` prompt left) and the kernel is idle."""
    expect(panel.locator(".jp-InputArea-prompt", has_text="[*]")).to_have_count(0, timeout=RUN)
    expect(page.locator("#jp-main-statusbar")).to_contain_text("Idle", timeout=RUN)


# True once the browser is done with the image: decoded, or broken (no size) for 5 s in a row. JupyterLab
# first shows an attachment as `attachment:NAME` and empties `src` while it resolves a link.
IMAGE_SETTLED = """img => {
    if (img.complete && img.naturalWidth > 0) return true;
    const state = img.complete ? img.getAttribute("src") || "(empty)" : null;
    if (state === null || state.startsWith("attachment:") || state !== img.dataset.brokenSrc) {
        img.dataset.brokenSrc = state ?? "";
        img.dataset.brokenSince = performance.now();
        return false;
    }
    return performance.now() - Number(img.dataset.brokenSince) > 5000;
}"""


def expect_image_loaded(page, image) -> None:
    """The <img> is decoded and has a size (a broken image has naturalWidth 0); its cell is scrolled into view."""
    expect(image).to_have_count(1)
    handle = image.element_handle()
    page.wait_for_function(IMAGE_SETTLED, arg=handle, timeout=LOAD)
    handle.evaluate("img => img.closest('.jp-Cell').scrollIntoView({block: 'center'})")
    width, height, src = handle.evaluate("img => [img.naturalWidth, img.naturalHeight, img.getAttribute('src')]")
    errors = "; ".join(getattr(page, "console_errors", [])) or "none"
    assert width > 0 and height > 0, (
        f"broken image {handle.get_attribute('alt')!r} (src {(src or '')[:60]!r}); browser console errors: {errors}"
    )


# ---- The flows -------------------------------------------------------------------------------------------


def stages_with_figures(notebooks: Path) -> list[str]:
    """The stages whose student notebook shows a figure from a cell attachment."""
    return sorted(
        path.parent.name for path in notebooks.glob("*/*.ipynb") if "attachment:" in path.read_text(encoding="utf-8")
    )


@pytest.mark.parametrize("stage", stages_with_figures(NOTEBOOKS))
def test_student_sees_the_pipeline_figure(page, lab, stage):
    shots = Screenshots(f"figure-{stage}")
    panel = open_notebook(page, lab, stage)
    figure = panel.locator(".jp-MarkdownCell .jp-RenderedMarkdown img")
    expect_image_loaded(page, figure)
    shots.take(page, "pipeline figure in the notebook")
    shots.take(figure, "pipeline figure")  # the whole figure, also the part below the window


def test_student_solves_validates_and_reads_a_mistake(page, lab, course):
    shots = Screenshots("student")
    panel = open_notebook(page, lab, FIRST)
    shots.take(page, "first notebook opened")

    exercise = cell(panel, cell_index(course, FIRST, "make_batch"))
    check = cell(panel, cell_index(course, FIRST, "test_make_batch"))
    plot = cell(panel, cell_index(course, FIRST, "plot_data"))
    expect(exercise).to_contain_text("YOUR CODE HERE")
    type_into_cell(page, exercise, CORRECT_MAKE_BATCH)
    shots.take(exercise, "correct answer typed")

    written = cell(panel, cell_index(course, FIRST, "answer_label_share"))
    type_into_cell(page, written, WRITTEN_ANSWER)
    run_all(page)  # also renders the written answer
    expect(written.locator(".jp-RenderedMarkdown")).to_contain_text(WRITTEN_ANSWER)
    expect(check.locator(".jp-OutputArea")).to_contain_text("make_batch looks right.", timeout=RUN)
    expect_image_loaded(page, plot.locator(".jp-OutputArea-output img"))
    wait_until_done(page, panel)
    expect(panel.locator(STDERR)).to_have_count(0)
    check.scroll_into_view_if_needed()
    shots.take(page, "check passes")
    plot.scroll_into_view_if_needed()
    shots.take(page, "data plot")

    panel.locator(".validate-button").click()
    dialog = page.locator(".jp-Dialog")
    expect(dialog).to_contain_text("Validation Results", timeout=RUN)
    expect(dialog.locator(".validation-success")).to_contain_text("Success! Your notebook passes all the tests.")
    shots.take(page, "validate succeeds")
    dialog.get_by_role("button", name="Ok").click()
    expect(dialog).to_have_count(0)

    type_into_cell(page, exercise, WRONG_MAKE_BATCH)
    run_all(page)
    error = check.locator(STDERR)
    # The last line of the traceback is the message (the source lines above it show every message).
    expect(error).to_contain_text(
        re.compile(
            r"AssertionError: the digit 9 never appears: torch\.randint's upper "
            r"bound is exclusive, use torch\.randint\(0, 10, \.\.\.\)"
        ),
        timeout=RUN,
    )
    wait_until_done(page, panel)
    error.evaluate("node => node.scrollIntoView({block: 'end'})")
    shots.take(page, "wrong answer named")


def test_student_sees_the_plots_of_a_later_notebook(page, lab, course):
    shots = Screenshots("later")
    panel = open_notebook(page, lab, LATER)
    answers = reference_answers(course / "solutions" / LATER / f"{LATER}.ipynb")
    for grade_id in ("attention_weights", "attend", "attention_readout"):
        type_into_cell(page, cell(panel, cell_index(course, LATER, grade_id)), answers[grade_id])
    run_all(page)
    plot = cell(panel, cell_index(course, LATER, "plot_random_attention"))
    expect_image_loaded(page, plot.locator(".jp-OutputArea-output img"))
    wait_until_done(page, panel)
    expect(panel.locator(STDERR)).to_have_count(0)
    plot.scroll_into_view_if_needed()
    shots.take(page, "attention heatmap")


def test_instructor_grades_a_written_answer(page, lab, course):
    from nbgrader.api import Gradebook

    shots = Screenshots("instructor")
    page.goto(lab.url("lab?reset"))
    page.locator(".lm-MenuBar-item", has_text="Nbgrader").click()
    page.locator('.lm-Menu-item[data-command="nbgrader:open-formgrader"]').click()
    formgrader = page.frame_locator("#formgrader iframe")
    assignments = formgrader.locator("#main-table")
    for stage in STAGES:
        expect(assignments).to_contain_text(stage)
    expect(assignments.locator("tr", has_text=FIRST).locator(".num-submissions")).to_have_text("1")
    shots.take(page, "formgrader assignments")

    formgrader.get_by_role("link", name="Manual Grading").click()
    formgrader.get_by_role("link", name=FIRST, exact=True).click()
    expect(formgrader.get_by_role("heading", name="Manual Grading")).to_be_visible()
    notebooks = formgrader.locator("#main-table")
    expect(notebooks.locator("tr", has_text=FIRST).locator(".needs-manual-grade .glyphicon-ok")).to_have_count(1)
    shots.take(page, "assignment notebooks")
    formgrader.locator("#main-table").get_by_role("link", name=FIRST, exact=True).click()
    submissions = formgrader.locator("#main-table")
    expect(submissions).to_contain_text("Submission #1")
    shots.take(page, "notebook submissions")

    submissions.get_by_role("link", name="Submission #1").click()
    score = formgrader.locator("input.score#answer_label_share")
    score.scroll_into_view_if_needed()
    submission = formgrader.locator("body")
    expect(submission).to_contain_text(WRITTEN_ANSWER)
    expect(submission).to_contain_text("make_batch looks right.")  # output of the autograded check
    comment = formgrader.locator("textarea#answer_label_share-comment")
    with page.expect_response(saved("grade")):
        score.fill("1")
        score.blur()  # the formgrader saves a score when the field changes
    with page.expect_response(saved("comment")):
        comment.fill(COMMENT)
        comment.blur()
    shots.take(page, "written answer graded")

    frame = page.locator("#formgrader iframe").element_handle().content_frame()
    frame.goto(frame.url)  # reloaded, the formgrader shows what it saved
    expect(formgrader.locator("input.score#answer_label_share")).to_have_value("1", timeout=LOAD)
    expect(formgrader.locator("textarea#answer_label_share-comment")).to_have_value(COMMENT)
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        grade = gradebook.find_grade("answer_label_share", FIRST, FIRST, STUDENT)
        assert (grade.manual_score, grade.max_score) == (1.0, 1.0)
        assert gradebook.find_comment("answer_label_share", FIRST, FIRST, STUDENT).manual_comment == COMMENT


def saved(kind: str):
    """Matches the formgrader's answer to saving a grade or comment (PUT /formgrader/api/<kind>/<id>)."""
    return lambda response: (
        response.request.method == "PUT" and f"/formgrader/api/{kind}/" in response.url and response.ok
    )
