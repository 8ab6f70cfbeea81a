"""What the student reads: nbgrader's feedback page with a short summary on top, and the short pages.

The summary says the score of the autograded tests and the first failing check's message: the exception
line (`AssertionError: X must have shape (N, 10) ...`) of the first test that failed, taken from the
autograded notebook. Never the test's code or traceback: hidden tests stay hidden, as on nbgrader's page
(whose hidden cells show only that same line).
"""

import html
import json
import re
from datetime import datetime

from autograder.grading.result import GradeResult, Status

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
BODY = re.compile(r"<body[^>]*>", re.IGNORECASE)
MESSAGE_LIMIT = 400
STYLE = (
    "font-family: system-ui, -apple-system, 'Segoe UI', sans-serif; max-width: 960px; margin: 16px auto; "
    "padding: 12px 20px; border-radius: 6px; border: 1px solid {border}; background: {background}; "
    "color: #1d1d1d; line-height: 1.45;"
)
GOOD, BAD, NEUTRAL = ("#2e7d32", "#edf7ee"), ("#c62828", "#fdecea"), ("#8a6d00", "#fff8e1")
NOT_SCORED = {
    Status.UNREADABLE: "Your file could not be read as a notebook: open it in JupyterLab, save it and submit again.",
    Status.MISSING: "Your submission has no notebook named {stage}.ipynb: keep the notebook's name and submit again.",
    Status.ERROR: "The grader failed on your notebook (not your fault); your instructor has been told and will "
    "grade it.",
}


def when(timestamp: datetime) -> str:
    return timestamp.strftime("%Y-%m-%d %H:%M:%S UTC")


def _number(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def first_failure(result: GradeResult) -> tuple[str, str] | None:
    """(test name, what the student may read) of the first autograded test that did not pass, or None."""
    failing = next((t for t in result.tests if t.kind != "written answer" and t.result != "passed"), None)
    if failing is None:
        return None
    if failing.result == "not run":
        return failing.name, "did not run (a cell before it stopped the notebook)"
    if failing.result.startswith("no credit"):
        return failing.name, "no credit: the grader found code that changes grading (see below)"
    message = _error_line(result.autograded_notebook, failing.name)
    if message is None:
        message = f"{_number(failing.points or 0)} of {_number(failing.max_points)} points"
    return failing.name, message


def _error_line(notebook: bytes | None, grade_id: str) -> str | None:
    """`ename: evalue` of the error in the test cell `grade_id` of the autograded notebook, or None."""
    if not notebook:
        return None
    try:
        cells = json.loads(notebook)["cells"]
    except (ValueError, KeyError, TypeError):
        return None
    for cell in cells:
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") != grade_id:
            continue
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                name, value = ANSI.sub("", str(output.get("ename", ""))), ANSI.sub("", str(output.get("evalue", "")))
                line = f"{name}: {value}" if value.strip() else name
                return line if len(line) <= MESSAGE_LIMIT else line[:MESSAGE_LIMIT] + " ..."
    return None


def summary(result: GradeResult, submitted: datetime) -> tuple[str, str]:
    """(plain one-line summary for logs, HTML box) of a graded submission."""
    stage = result.stage
    written = [t for t in result.tests if t.kind == "written answer"]
    lines = []
    if result.status.scored:
        score = f"{_number(result.score)} of {_number(result.max_score)} points"
        headline = f"{stage}: {score} from the autograded tests"
        failure = first_failure(result)
        if result.status == Status.FLAGGED:
            colours = NEUTRAL
            lines.append("<b>Flagged for review by your instructor:</b> " + html.escape(result.detail))
        elif result.status in (Status.TIMEOUT, Status.KERNEL_DIED):
            colours = BAD
            lines.append("<b>Your notebook stopped early:</b> " + html.escape(result.detail))
        else:
            colours = GOOD if failure is None else BAD
        if failure is None:
            lines.append("All autograded checks passed.")
            plain = headline + "; all checks passed"
        else:
            name, message = failure
            lines.append(f"<b>First failing check</b> ({_code(name)}): {_code(message)}")
            plain = f"{headline}; first failing check {name}: {message}"
    else:
        colours, headline = BAD, f"{stage}: not graded automatically"
        lines.append(html.escape(NOT_SCORED.get(result.status, "").format(stage=stage) or result.detail))
        plain = f"{headline} ({result.status})"
    if written:
        lines.append(
            f"{len(written)} written answer{'s are' if len(written) != 1 else ' is'} graded by your "
            "instructor and not counted here."
        )
    lines.append(f"Submitted {when(submitted)}. Only your latest submission counts; the full feedback is below.")
    return plain, _box(headline, lines, colours, "autograder-summary")


def _code(text: str) -> str:
    return (
        f"<code style='color: inherit; background: #ffffff; padding: 1px 4px; border-radius: 3px'>"
        f"{html.escape(text)}</code>"
    )


def _box(headline: str, lines: list[str], colours: tuple[str, str], element_id: str) -> str:
    border, background = colours
    paragraphs = "".join(f"<p style='margin: 6px 0'>{line}</p>" for line in lines)
    return (
        f"<div id='{element_id}' style=\"{STYLE.format(border=border, background=background)}\">"
        f"<h2 style='margin: 4px 0 8px; font-size: 1.3em'>{html.escape(headline)}</h2>{paragraphs}</div>"
    )


def feedback_page(result: GradeResult, submitted: datetime) -> tuple[str, str]:
    """(one-line summary, nbgrader's feedback page with the summary box first in its body)."""
    plain, box = summary(result, submitted)
    page = result.feedback_html or _document(result.stage, "")
    found = BODY.search(page)
    if found is None:
        return plain, box + page
    return plain, page[: found.end()] + box + page[found.end() :]


def short_page(stage: str, headline: str, lines: list[str], good: bool = False) -> str:
    """A page of a few sentences (lines are HTML-escaped), styled like the summary."""
    box = _box(headline, [html.escape(line) for line in lines], GOOD if good else NEUTRAL, "autograder-notice")
    return _document(stage, box)


def _document(stage: str, body: str) -> str:
    return (
        f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>{html.escape(stage)} feedback</title>"
        f"</head><body>{body}</body></html>\n"
    )
