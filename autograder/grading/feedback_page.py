"""The student's feedback page, readable anywhere: maths without internet, figures that fit the page.

nbgrader renders feedback with nbconvert's HTMLExporter and its template `feedback`, which loads MathJax from
a CDN (a page opened offline shows raw `$$...$$`) and leaves markdown images at their natural width (the
pipeline figure is cut off at the right). One nbconvert preprocessor, `FeedbackPage`, fixes both without
touching nbgrader or its template:

- it turns the `$...$` and `$$...$$` of markdown cells into MathML (with latex2mathml), which every current
  browser renders by itself;
- it adds CSS to the page's inlined styles (`resources["inlining"]["css"]`, which nbgrader's template writes
  into the page): figures scale to the page width, long formulas scroll.

`configure(c)` appends it to nbgrader's GenerateFeedback preprocessors (after CSSHTMLHeaderPreprocessor, which
creates the inlined styles); autograder/nbgrader_config.py calls it, so every `generate_feedback` of the
course (the grader's and the formgrader's) uses it.
"""

import re

from latex2mathml.converter import convert
from nbconvert.preprocessors import Preprocessor
from traitlets import Bool

PAGE_CSS = """
/* Figures (the pipeline figure is 1600 px wide) scale down to the width of the page. */
div.text_cell_render img, div.output_png img { max-width: 100%; height: auto; }
/* Maths is MathML, pre-rendered: no internet needed. Long formulas scroll instead of overflowing. */
math[display="block"] { display: block; overflow-x: auto; margin: 0.8em 0; font-size: 115%; }
details > summary { cursor: pointer; font-weight: bold; }
"""

# Code (fenced blocks and `spans`) is left alone: a `$` there is not maths.
CODE = re.compile(r"(```.*?```|`[^`\n]*`)", re.S)
DISPLAY_MATH = re.compile(r"\$\$(.+?)\$\$", re.S)
INLINE_MATH = re.compile(r"(?<![\\$])\$(?!\$)([^$\n]+?)(?<!\\)\$")


def mathml(latex: str, display: bool) -> str | None:
    """The MathML of a LaTeX formula, or None if latex2mathml cannot convert it."""
    try:
        return convert(latex.strip(), display="block" if display else "inline")
    except Exception:  # latex2mathml raises many types for unknown commands; then the TeX stays as it was
        return None


def render_maths(markdown: str) -> str:
    """`markdown` with every `$$...$$` (as its own block) and `$...$` converted to MathML."""

    def outside_code(text: str) -> str:
        def display(match):
            converted = mathml(match.group(1), display=True)
            return f"\n\n{converted}\n\n" if converted else match.group(0)

        def inline(match):
            return mathml(match.group(1), display=False) or match.group(0)

        return INLINE_MATH.sub(inline, DISPLAY_MATH.sub(display, text))

    parts = CODE.split(markdown)
    return "".join(part if CODE.fullmatch(part) else outside_code(part) for part in parts)


class FeedbackPage(Preprocessor):
    """nbconvert preprocessor: the maths of markdown cells as MathML (no MathJax, no network needed), and CSS
    that fits figures to the page."""

    enabled = Bool(True, help="nbgrader registers preprocessors by name, which leaves nbconvert's default off").tag(
        config=True
    )

    def preprocess(self, nb, resources):
        resources.setdefault("inlining", {}).setdefault("css", []).append(PAGE_CSS)
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "markdown":
            cell.source = render_maths(cell.source)
        return cell, resources


def configure(c) -> None:
    """Make nbgrader's GenerateFeedback of config `c` render maths offline and fit figures to the page."""
    preprocessors = list(c.GenerateFeedback.preprocessors or [])
    if "autograder.grading.feedback_page.FeedbackPage" not in preprocessors:
        preprocessors.append("autograder.grading.feedback_page.FeedbackPage")
    c.GenerateFeedback.preprocessors = preprocessors
