"""The student's feedback page: nbgrader's exporter with a shared template cache, and a short page for a
notebook that could not be graded.

nbgrader's `generate_feedback` renders each page with its `GenerateFeedback.exporter_class` (an
HTMLExporter with nbgrader's "feedback" template). `FeedbackExporter` is that exporter with one in-memory
Jinja bytecode cache (Jinja's public `BytecodeCache`; entries are checked against the template source),
set through the exporter's public `environment`: the warm worker server compiles the templates once in
`warm_up()` and every worker forked from it renders without compiling them again.
"""

import html
import os

import jinja2
from nbconvert import HTMLExporter


class MemoryBytecodeCache(jinja2.BytecodeCache):
    def __init__(self):
        self.store = {}

    def load_bytecode(self, bucket):
        if bucket.key in self.store:
            bucket.bytecode_from_string(self.store[bucket.key])

    def dump_bytecode(self, bucket):
        self.store[bucket.key] = bucket.bytecode_to_string()


TEMPLATE_CACHE = MemoryBytecodeCache()


class FeedbackExporter(HTMLExporter):
    """nbgrader's feedback exporter (HTMLExporter) whose Jinja environment shares TEMPLATE_CACHE."""

    @property
    def environment(self):
        environment = super().environment
        environment.bytecode_cache = TEMPLATE_CACHE
        return environment


def simple_page(stage: str, message: str) -> str:
    """A short page for a notebook that nbgrader could not grade."""
    title = html.escape(stage)
    return (
        f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>{title}</title></head>"
        f"<body><h1>{title}</h1><p>{html.escape(message)}</p></body></html>\n"
    )


def warm_up() -> None:
    """Fill once the caches that every worker would fill again: nbformat's schema validator, pygments'
    lexers, nbconvert's HTML export with nbgrader's feedback template, nbgrader's database mappers. Only a
    notebook made here goes through it."""
    import nbformat
    import nbgrader.api  # noqa: F401  (its ORM classes)
    from nbgrader.converters import generate_feedback
    from sqlalchemy.orm import configure_mappers

    notebook = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell(
                "# A *title*\n\nSome `code`, a [link](#x), $x^2$ and a list:\n\n- one\n- two"
            ),
            nbformat.v4.new_code_cell(
                "import math\nprint(f'{math.pi:.2f}')  # a comment\nx = [1, 2.5, 'three', None]",
                outputs=[
                    nbformat.v4.new_output("stream", text="3.14\n"),
                    nbformat.v4.new_output(
                        "error", ename="AssertionError", evalue="no", traceback=["\x1b[0;31mAssertionError\x1b[0m: no"]
                    ),
                ],
            ),
        ]
    )
    nbformat.validate(nbformat.reads(nbformat.writes(notebook), as_version=4))
    configure_mappers()
    formgrader = os.path.join(os.path.dirname(generate_feedback.__file__), "..", "server_extensions", "formgrader")
    css = os.path.join(formgrader, "static", "node_modules", "bootstrap", "dist", "css")
    exporter = FeedbackExporter(
        template_name="feedback",  # configured as GenerateFeedback configures it
        extra_template_basedirs=[os.path.abspath(os.path.join(formgrader, "templates"))],
        extra_template_paths=[os.path.abspath(css)],
    )
    exporter.from_notebook_node(
        notebook, {"nbgrader": {"notebook": "warm-up", "score": 1.0, "max_score": 2.0, "late_penalty": 0.0}}
    )
