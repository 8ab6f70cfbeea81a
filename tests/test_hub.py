"""A class on JupyterHub, end to end in headless Chromium (deploy/jupyterhub/).

The hub of deploy/jupyterhub/ with three real Unix accounts (a teacher, two students, known passwords):
the teacher releases 01_data in the Formgrader; both students fetch it in the Assignments tab; one submits
too early and then again, filled in right (the late submission must be the one graded), the other fills it
in with a mistake, Validates and submits, and reads the feedback the hub's grading service made without
anyone grading by hand; from that student's server, the other's submission and the
teacher's course folder cannot be read; the teacher collects, grades with `python -m autograder grade` in
a terminal and returns the feedback with `python -m autograder return-feedback`; each student fetches
their feedback and reads their own score and check messages in JupyterLab. Screenshots of every step go to
$BROWSER_ARTIFACTS/hub-NN-*.png.

Needs root (accounts, servers started as them) and the class environment (`make hub-install`, run by
`make test` as root). Without them the test skips locally; with CI=true it fails instead.
"""

import csv
import os
import re
import secrets
import shutil
import sys
import tempfile
import time
from pathlib import Path

import pytest
from browser_lab import CHROMIUM_ARGS, chromium_path, free_port, missing_browser_reason
from test_browser import (
    ARTIFACTS,
    CORRECT_MAKE_BATCH,
    LOAD,
    RUN,
    STDERR,
    VIEWPORT,
    WRITTEN_ANSWER,
    WRONG_MAKE_BATCH,
    Screenshots,
    cell_index,
    run_all,
    type_into_cell,
    wait_until_done,
)

from autograder.course import ROOT

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:
    expect = sync_playwright = None

sys.path.insert(0, str(ROOT / "deploy" / "jupyterhub"))
import hubclass  # noqa: E402

pytestmark = pytest.mark.slow

HUB_BIN = Path(os.environ.get("HUB_PREFIX", "/opt/qkv-class")) / "venv" / "bin"
STAGE = "01_data"
TEACHER, ADA, BOB = "e2e-teacher", "e2e-ada", "e2e-bob"  # test accounts, removed afterwards
NBGRADER_MENU = ".lm-MenuBar-item"


def missing_reason() -> str | None:
    if os.geteuid() != 0:
        return "the class hub starts servers as other Unix users: run the tests as root"
    if not (HUB_BIN / "jupyterhub").exists():
        return f"the class environment is missing ({HUB_BIN / 'jupyterhub'}): run `make hub-install`"
    if not (hubclass.HERE / "node_modules" / ".bin" / "configurable-http-proxy").exists():
        return "configurable-http-proxy is missing: run `make hub-install`"
    return missing_browser_reason()


@pytest.fixture(scope="module")
def hub():
    reason = missing_reason()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true, so the hub test must run, but: {reason}", pytrace=False)
        pytest.skip(reason)
    for name in (TEACHER, ADA, BOB):  # left over from an interrupted run
        hubclass.remove_account(name)
    state = Path(tempfile.mkdtemp(prefix="qkv-hub-test-", dir="/tmp"))
    passwords = {name: secrets.token_urlsafe(8) for name in (TEACHER, ADA, BOB)}
    facts = hubclass.setup_class(state, TEACHER, [ADA, BOB], free_port(), passwords)
    server = hubclass.Hub(state, bin_dir=HUB_BIN)
    try:
        server.start(timeout=180)
        yield server, facts, passwords
    finally:
        server.stop()
        time.sleep(1)
        for name in (TEACHER, ADA, BOB):
            hubclass.remove_account(name)
        shutil.rmtree(state, ignore_errors=True)


@pytest.fixture(scope="module")
def browser(hub):
    expect.set_options(timeout=LOAD)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


OPEN_PAGES = {}  # user -> page, for the screenshots of a failure


def log_in(browser, hub_url: str, user: str, password: str):
    """A browser of its own for `user`: the hub's login form, then their JupyterLab once it started."""
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(LOAD)
    page = context.new_page()
    OPEN_PAGES[user] = page
    page.goto(hub_url + "hub/login")
    page.locator("#username_input").fill(user)
    page.locator("#password_input").fill(password)
    page.locator("#login_submit").click()
    page.wait_for_url(re.compile(rf"/user/{re.escape(user)}/lab"), timeout=LOAD)
    expect(page.locator("#jp-main-statusbar")).to_be_visible()
    return page


def lab_url(hub_url: str, user: str, path: str = "lab") -> str:
    return f"{hub_url}user/{user}/{path}"


def nbgrader_menu(page, command: str) -> None:
    page.locator(NBGRADER_MENU, has_text="Nbgrader").click()
    page.locator(f'.lm-Menu-item[data-command="{command}"]').click()


def formgrader_row(page):
    formgrader = page.frame_locator("#formgrader iframe")
    return formgrader, formgrader.locator("#main-table tr", has_text=STAGE)


def formgrader_action(page, icon: str) -> None:
    """Click an action of the stage's row in Manage Assignments and close nbgrader's success dialog."""
    formgrader, row = formgrader_row(page)
    row.locator(f".glyphicon-{icon}").click()
    dialog = formgrader.locator("#success-modal")
    expect(dialog).to_be_visible(timeout=RUN)
    dialog.locator("button", has_text="OK").click()
    expect(dialog).to_have_count(0)


def open_assignments(page) -> None:
    nbgrader_menu(page, "nbgrader:open-assignment-list")
    expect(page.locator("#released_assignments_list")).to_be_visible()


def open_stage(page, hub_url: str, user: str):
    page.goto(lab_url(hub_url, user, f"lab/tree/{STAGE}/{STAGE}.ipynb?reset"))
    panel = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")
    expect(panel.locator(".jp-Cell").first).to_be_visible()
    expect(page.locator("#jp-main-statusbar")).to_contain_text("Idle")
    return panel


def cell_of(panel, grade_id: str):
    notebook = ROOT / "notebooks"
    return panel.locator(".jp-Cell").nth(cell_index(notebook.parent, STAGE, grade_id))


def save(page, panel) -> None:
    """Save the notebook (what is submitted is the file on disk); JupyterLab may ask whether to overwrite a
    file that changed on disk (Validate saved it a moment before): yes."""
    page.keyboard.press("Control+s")
    overwrite = page.locator(".jp-Dialog").get_by_role("button", name="Overwrite")
    try:
        overwrite.click(timeout=3000)
    except Exception:  # no question asked
        pass
    expect(page.locator(".jp-Dialog")).to_have_count(0)
    expect(page.locator(".lm-TabBar-tab.jp-mod-dirty")).to_have_count(0)  # the tab shows no unsaved dot


def submit(page, hub_url: str, user: str) -> None:
    page.goto(lab_url(hub_url, user, "lab?reset"))
    open_assignments(page)
    fetched = page.locator("#fetched_assignments_list")
    before = page.locator("#submitted_assignments_list .list_item").count()
    fetched.get_by_role("button", name="Submit").click()
    expect(page.locator("#submitted_assignments_list .list_item")).not_to_have_count(before, timeout=RUN)


def open_feedback(page, hub_url: str, user: str):
    """Fetch Feedback in the Assignments tab (again, until every submission has its page: the grading service
    may still be at work), open the page of the newest submission; returns the HTML viewer's frame."""
    deadline = time.monotonic() + RUN / 1000
    while True:
        page.goto(lab_url(hub_url, user, "lab?reset"))
        open_assignments(page)
        submitted = page.locator("#submitted_assignments_list")
        rows = submitted.locator(".nested_list_item")
        expect(rows).not_to_have_count(0)
        fetch = submitted.get_by_role("button", name="Fetch Feedback")
        if fetch.is_enabled():
            fetch.click()
        links = submitted.get_by_text("(view feedback)")
        try:
            expect(links).to_have_count(rows.count(), timeout=5000)
            break
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(2)
    links.last.click()  # nbgrader lists submissions oldest first
    listing = page.locator(".jp-DirListing-item", has_text=f"{STAGE}.html")
    listing.dblclick()
    return page.frame_locator(".jp-HTMLViewer:not(.lm-mod-hidden) iframe")


def terminal(page, hub_url: str, user: str, command: str) -> None:
    """Open a terminal in the user's JupyterLab and type `command` into it."""
    page.goto(lab_url(hub_url, user, "lab?reset"))
    page.locator('.jp-LauncherCard[title="Start a new terminal session"]').click()
    screen = page.locator(".jp-Terminal:not(.lm-mod-hidden) .xterm-screen")
    expect(screen).to_be_visible()
    screen.click()
    page.keyboard.type(command + "\n")


def wait_for(condition, what: str, timeout: float = RUN / 1000) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(1)


PROBE = """import os
for path in {paths!r}:
    try:
        os.listdir(path) if os.path.isdir(path) else open(path).read(1)
        print("READABLE", path)
    except PermissionError:
        print("denied", path)"""


@pytest.fixture
def failure_screenshots():
    """What every user's browser showed last (after a failure too): ARTIFACTS/hub-last-<user>.png."""
    OPEN_PAGES.clear()
    yield
    for user, page in OPEN_PAGES.items():
        try:
            page.screenshot(path=ARTIFACTS / f"hub-last-{user}.png")
        except Exception:  # a closed page
            pass


def test_a_class_on_the_hub(hub, browser, failure_screenshots):
    server, facts, passwords = hub
    url = server.url
    course = Path(facts["course_root"])
    exchange = Path(facts["exchange"])
    shots = Screenshots("hub")

    # The teacher releases the first stage in the Formgrader (Generate, then Release).
    teacher = log_in(browser, url, TEACHER, passwords[TEACHER])
    nbgrader_menu(teacher, "nbgrader:open-formgrader")
    formgrader, row = formgrader_row(teacher)
    expect(row).to_contain_text("draft")
    shots.take(teacher, "teacher formgrader")
    formgrader_action(teacher, "education")
    formgrader_action(teacher, "cloud-upload")
    expect(row).to_contain_text("released")
    shots.take(teacher, "teacher released 01_data")

    # Ada fetches it and submits right away, before filling anything in.
    ada = log_in(browser, url, ADA, passwords[ADA])
    open_assignments(ada)
    released = ada.locator("#released_assignments_list")
    expect(released).to_contain_text(STAGE)
    shots.take(ada, "ada assignments tab")
    released.get_by_role("button", name="Fetch").click()
    expect(ada.locator("#fetched_assignments_list")).to_contain_text(STAGE)
    shots.take(ada, "ada fetched")
    submit(ada, url, ADA)
    shots.take(ada, "ada submitted too early")

    # Bob fills it in with a mistake, reads the check, Validates and submits.
    bob = log_in(browser, url, BOB, passwords[BOB])
    open_assignments(bob)
    bob.locator("#released_assignments_list").get_by_role("button", name="Fetch").click()
    expect(bob.locator("#fetched_assignments_list")).to_contain_text(STAGE)
    panel = open_stage(bob, url, BOB)
    type_into_cell(bob, cell_of(panel, "make_batch"), WRONG_MAKE_BATCH)
    type_into_cell(bob, cell_of(panel, "answer_label_share"), WRITTEN_ANSWER)
    run_all(bob)
    check = cell_of(panel, "test_make_batch")
    expect(check.locator(STDERR)).to_contain_text("the digit 9 never appears", timeout=RUN)
    wait_until_done(bob, panel)
    check.locator(STDERR).evaluate("node => node.scrollIntoView({block: 'end'})")
    shots.take(bob, "bob reads his mistake")
    panel.locator(".validate-button").click()  # saves the notebook, then validates it
    dialog = bob.locator(".jp-Dialog")
    expect(dialog).to_contain_text("Validation Results", timeout=RUN)
    expect(dialog).to_contain_text("the digit 9 never appears")
    shots.take(bob, "bob validate fails")
    dialog.get_by_role("button", name="Ok").click()
    save(bob, panel)
    submit(bob, url, BOB)
    shots.take(bob, "bob submitted")

    # Nobody grades by hand: the hub's grading service grades the submission, and Bob fetches his feedback
    # a few seconds later, with his score and his first failing check at the top of the page.
    viewer = open_feedback(bob, url, BOB)
    expect(viewer.locator("body")).to_contain_text("01_data: 0 of 5 points", timeout=RUN)
    expect(viewer.locator("body")).to_contain_text("the digit 9 never appears")
    shots.take(bob, "bob reads the service feedback")

    # From Bob's server: Ada's files, the exchange's submissions and the teacher's course stay closed.
    private = [
        str(exchange / facts["course_id"] / "inbound"),
        f"/home/{ADA}/{STAGE}/{STAGE}.ipynb",
        str(course / "solutions" / STAGE / f"{STAGE}.ipynb"),
        str(course / "submitted"),
    ]
    bob.goto(lab_url(url, BOB, "lab?reset"))  # a new notebook from the Launcher
    bob.locator(".jp-Launcher-section", has_text="Notebook").locator(".jp-LauncherCard").first.click()
    panel = bob.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")
    expect(bob.locator("#jp-main-statusbar")).to_contain_text("Idle")
    probe = panel.locator(".jp-Cell").first
    type_into_cell(bob, probe, PROBE.format(paths=private))
    bob.keyboard.press("Shift+Enter")  # runs it (and adds an empty cell below)
    output = probe.locator(".jp-OutputArea")
    for path in private:
        expect(output).to_contain_text(f"denied {path}", timeout=60 * 1000)
    expect(output).not_to_contain_text("READABLE")
    output.scroll_into_view_if_needed()
    shots.take(bob, "bob cannot read others files")

    # The teacher collects: two submissions.
    teacher.goto(lab_url(url, TEACHER, "lab?reset"))
    nbgrader_menu(teacher, "nbgrader:open-formgrader")
    formgrader_action(teacher, "cloud-download")
    formgrader, row = formgrader_row(teacher)
    expect(row.locator(".num-submissions")).to_have_text("2")
    shots.take(teacher, "teacher collected two")
    first_timestamp = (course / "submitted" / ADA / STAGE / "timestamp.txt").read_text()

    # Ada fills it in right, Validates and submits again, late.
    panel = open_stage(ada, url, ADA)
    type_into_cell(ada, cell_of(panel, "make_batch"), CORRECT_MAKE_BATCH)
    type_into_cell(ada, cell_of(panel, "answer_label_share"), WRITTEN_ANSWER)
    run_all(ada)
    check = cell_of(panel, "test_make_batch")
    expect(check.locator(".jp-OutputArea")).to_contain_text("make_batch looks right.", timeout=RUN)
    wait_until_done(ada, panel)
    expect(panel.locator(STDERR)).to_have_count(0)
    panel.locator(".validate-button").click()
    dialog = ada.locator(".jp-Dialog")
    expect(dialog.locator(".validation-success")).to_contain_text("Success!", timeout=RUN)
    shots.take(ada, "ada validate succeeds")
    dialog.get_by_role("button", name="Ok").click()
    save(ada, panel)
    submit(ada, url, ADA)
    expect(ada.locator("#submitted_assignments_list .nested_list_item")).to_have_count(2)  # two timestamps
    shots.take(ada, "ada submitted again late")

    # The teacher collects again (the late submission replaces the first), grades and returns feedback.
    teacher.goto(lab_url(url, TEACHER, "lab?reset"))
    nbgrader_menu(teacher, "nbgrader:open-formgrader")
    formgrader_action(teacher, "cloud-download")
    second_timestamp = (course / "submitted" / ADA / STAGE / "timestamp.txt").read_text()
    assert second_timestamp > first_timestamp
    assert "torch.randint(0, 10," in (course / "submitted" / ADA / STAGE / f"{STAGE}.ipynb").read_text()
    returned = course / "graded" / "returned.txt"
    terminal(
        teacher,
        url,
        TEACHER,
        "cd qkv-attention && python -m autograder grade submitted --out graded "
        "--notebooks 01_data --jobs 2 && python -m autograder return-feedback graded"
        " && date > graded/returned.txt",
    )
    wait_for(returned.exists, "the feedback returned by the teacher", 600)
    time.sleep(2)
    shots.take(teacher, "teacher graded and returned feedback")
    with open(course / "graded" / "grades.csv", newline="") as table:
        grades = {row["student_id"]: row for row in csv.DictReader(table)}
    assert set(grades) == {ADA, BOB}, grades

    # Each student fetches their feedback and reads their own score and check messages.
    for page, user, message in (
        (ada, ADA, "make_batch looks right."),
        (bob, BOB, "AssertionError: the digit 9 never appears"),
    ):
        viewer = open_feedback(page, url, user)
        outputs = viewer.locator(".output_subarea")  # what the checks printed, not their source
        expect(outputs.filter(has_text=message)).not_to_have_count(0, timeout=LOAD)
        expect(viewer.locator("body")).to_contain_text("Score")
        expect(viewer.locator("body")).not_to_contain_text("other files ignored")  # nbgrader's own files
        shots.take(page, f"{user} reads feedback score")
        outputs.filter(has_text=message).first.scroll_into_view_if_needed()
        shots.take(page, f"{user} reads feedback check message")
        other = BOB if user == ADA else ADA
        expect(viewer.locator("body")).not_to_contain_text(other)
