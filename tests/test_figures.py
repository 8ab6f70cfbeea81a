"""The figures: the SVG sources, their PNG renderings and how notebooks embed them."""

import base64
import xml.etree.ElementTree as ElementTree

import pytest
from conftest import read
from nbformat.v4 import new_markdown_cell, new_notebook

from autograder.course import FIGURES, STAGES, solution_notebook
from autograder.release.figures import _stamp, recorded_digest, svg_digest
from autograder.release.generate import CourseSourceError, embed_figures


def test_pipeline_figure_is_a_self_contained_svg_with_the_shapes():
    tree = ElementTree.parse(FIGURES / "text1.svg")
    root = tree.getroot()
    assert root.tag.endswith("svg") and root.get("viewBox")
    text = " ".join(t for t in root.itertext())
    for shape in ["(N, M)", "(N, M, E)", "(N, M, A)", "(N, M, 1)", "(N, 1, M)", "(N, 1)", "(1, A)"]:
        assert shape in text, f"the figure does not show the shape {shape}"
    for step in ["Embedding", "Keys", "Values", "Softmax", "MLP", "Sigmoid"]:
        assert step in text
    source = (FIGURES / "text1.svg").read_text(encoding="utf-8")
    assert 'href="http' not in source and "@import" not in source, "the figure must not load anything from outside"


@pytest.mark.parametrize("svg", sorted(FIGURES.glob("*.svg")), ids=lambda p: p.name)
def test_png_rendering_is_current_with_its_svg(svg):
    png = svg.with_suffix(".png")
    assert png.is_file(), f"{png.name} is missing: run `make figures`"
    assert recorded_digest(png) == svg_digest(svg), f"{png.name} is stale: run `make figures`"


def test_stamp_round_trip(tmp_path):
    png = (FIGURES / "text1.png").read_bytes()
    unstamped = tmp_path / "plain.png"
    unstamped.write_bytes(png.replace(b"Source-SHA256", b"Other-Key-Abcd"))
    assert recorded_digest(unstamped) is None
    stamped = tmp_path / "stamped.png"
    stamped.write_bytes(_stamp(unstamped.read_bytes(), "abc123"))
    assert recorded_digest(stamped) == "abc123"


def test_notebooks_embed_the_current_png():
    embedded = 0
    for stage in STAGES:
        for cell in read(solution_notebook(stage)).cells:
            for name, bundle in cell.get("attachments", {}).items():
                assert set(bundle) == {"image/png"}
                assert base64.b64decode(bundle["image/png"]) == (FIGURES / name).read_bytes()
                embedded += 1
    assert embedded >= 5


def test_svg_attachments_and_missing_figures_are_refused_with_a_reason():
    with pytest.raises(CourseSourceError, match="does not render SVG"):
        embed_figures(new_notebook(cells=[new_markdown_cell("![x](attachment:text1.svg)")]))
    with pytest.raises(CourseSourceError, match="nope.png does not exist"):
        embed_figures(new_notebook(cells=[new_markdown_cell("![x](attachment:nope.png)")]))
