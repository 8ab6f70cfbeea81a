"""Command line of the instructor tooling: `python -m autograder COMMAND`."""

import argparse
import logging
import sys

from autograder.course import FIGURES, ROOT, STAGES, solution_notebook
from autograder.grading.batch import add_grade_parser
from autograder.lms.export import add_export_parser
from autograder.lms.sheet import ExportError
from autograder.nbgrader_cli import NbgraderError
from autograder.release.execute import refresh_outputs
from autograder.release.figures import FigureError, render
from autograder.release.generate import CourseSourceError, drift, release, sync_sources
from autograder.service.cli import add_serve_parsers
from autograder.service.return_feedback import add_return_feedback_parser


def command_release(args) -> int:
    if args.check:
        problems = drift()
        for problem in problems:
            print(f"drift: {problem}", file=sys.stderr)
        if problems:
            print("Run `make notebooks` to rebuild notebooks/ from solutions/.", file=sys.stderr)
            return 1
        print("notebooks/ is exactly what nbgrader generates from solutions/.")
        return 0
    if args.execute:
        sync_sources()  # the provided cells must be filled before the notebooks run
        for stage in STAGES:
            print(f"executing solutions/{stage} ...", flush=True)
            refresh_outputs(solution_notebook(stage))
    changed = release()
    for path in changed:
        print(f"synced {path.relative_to(ROOT)}")
    print("notebooks/ regenerated from solutions/.")
    return 0


def command_figures(args) -> int:
    for svg in sorted(FIGURES.glob("*.svg")):
        png = render(svg)
        print(f"rendered {png.relative_to(ROOT)} from {svg.name}")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    release_parser = commands.add_parser("release", help="rebuild notebooks/ from solutions/ with nbgrader")
    release_parser.add_argument("--check", action="store_true", help="only report drift; change nothing")
    release_parser.add_argument(
        "--execute",
        action="store_true",
        help="first re-run the solution notebooks and store their outputs (what nbval checks)",
    )
    release_parser.set_defaults(run=command_release)
    figures_parser = commands.add_parser("figures", help="render Grafiken/*.svg to the PNGs the notebooks embed")
    figures_parser.set_defaults(run=command_figures)
    add_grade_parser(commands)
    add_export_parser(commands)
    add_serve_parsers(commands)
    add_return_feedback_parser(commands)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")  # diagnostics on stderr
    try:
        return args.run(args)
    except (CourseSourceError, FigureError, NbgraderError, ExportError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
