"""The benchmark's machinery on a tiny class (bench/grading.py): it must keep working, and the grader must
give plain nbgrader's scores. Timings are benchmark figures (make bench), never asserted here."""

import nbformat
import pytest

from bench import grading

STAGE = "01_data"


def test_build_class_mixes_the_kinds(tmp_path):
    kinds = grading.build_class(tmp_path, 4, [STAGE])
    assert sorted(kinds.values()) == sorted(grading.KINDS)
    sources = {
        kind: "".join(
            c.source for c in nbformat.read(tmp_path / s / f"{STAGE}.ipynb", 4).cells if c.cell_type == "code"
        )
        for (s, _), kind in kinds.items()
    }
    stub = "raise NotImplementedError()"
    assert stub in sources["blank"] and stub not in sources["correct"]
    assert "unfinished line" in sources["broken"]
    assert sources["wrong"] != sources["correct"]


def test_differences_names_each_disagreement():
    lines = grading.differences({("a", STAGE): 2.0, ("b", STAGE): 1.0}, {("a", STAGE): 2.0, ("b", STAGE): 0.0})
    assert lines == [f"b {STAGE}: nbgrader 1.0, grader 0.0"]
    assert grading.differences({("a", STAGE): 1.0}, {}) == [f"a {STAGE}: nbgrader 1.0, grader None"]


def test_grader_and_serial_nbgrader_agree_on_a_tiny_class(tmp_path):
    kinds = grading.build_class(tmp_path / "class", 2, [STAGE])  # one correct, one wrong
    serial = grading.grade_serial(tmp_path / "class", [STAGE], tmp_path / "nbgrader")
    project = grading.grade_project(tmp_path / "class", [STAGE], tmp_path / "graded", jobs=2)
    assert set(serial.scores) == set(kinds) == set(project.scores)
    assert serial.scores[("s001", STAGE)] > serial.scores[("s002", STAGE)]  # correct beats wrong
    assert grading.differences(serial.scores, project.scores) == []
    assert serial.seconds > 0 and project.peak_mb > 0


def test_latency_percentiles_are_nearest_rank():
    from bench.latency import Latencies

    result = Latencies(STAGE, [float(n) for n in range(20, 0, -1)], 3.0, (0.5, 0.4, 0.3), [1.0, 3.0, 2.0])
    assert (result.percentile(50), result.percentile(95), result.percentile(100)) == (10.0, 19.0, 20.0)
    assert result.row() == f"| {STAGE} | 20 in 3.0 s | 10.0 | 19.0 | 20.0 | 10.5 | 2.0 | 0.5, 0.4, 0.3 |"


@pytest.mark.slow
def test_latency_of_the_grading_service_on_two_students(tmp_path):
    from bench.latency import measure

    result = measure(STAGE, 2, 0.5, 2, tmp_path)
    assert len(result.seconds) == 2 and all(0 < s < 600 for s in result.seconds)
    assert len(result.grading) == 2 and all(0 < s < 600 for s in result.grading)
    grades = (tmp_path / "course" / "grades.csv").read_text().splitlines()
    assert len(grades) == 1 + 3  # the warm-up student and the two measured ones, each graded
