"""Returning the grader's feedback pages through nbgrader's exchange (a class on JupyterHub).

In the course folder, after `nbgrader collect` (the Formgrader's Collect button) and
`python -m autograder grade submitted --out graded`:

    python -m autograder return-feedback graded

puts each student's page where nbgrader keeps feedback, feedback/<student>/<stage>/<stage>.html, next to
the timestamp.txt and submission_secret.txt of the submission it graded (nbgrader names a released page by a
hash of that secret, so only the student who submitted finds it), then runs `nbgrader release_feedback` for
each stage. Students get the page with Fetch Feedback in the Assignments tab.

A page is returned only when the submission it graded is still the collected one: after a newer
submission was collected, grade again first.
"""

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from autograder.nbgrader_cli import run_nbgrader

SUBMISSION_FILES = ("timestamp.txt", "submission_secret.txt")


class FeedbackError(ValueError):
    """The graded folder or the course cannot be used: a one-line message."""


@dataclass
class Returned:
    released: dict[str, list[str]] = field(default_factory=dict)  # stage -> students
    skipped: list[str] = field(default_factory=list)  # "student/stage: why"


def place_feedback(graded: Path, course: Path, stages: list[str] | None = None) -> Returned:
    """Copy GRADED/feedback/<student>/<stage>.html into COURSE/feedback/<student>/<stage>/ with the
    submission's timestamp and secret."""
    pages = sorted((graded / "feedback").glob("*/*.html"))
    if not pages:
        raise FeedbackError(f"no feedback pages in {graded / 'feedback'}: run `python -m autograder grade` first")
    returned = Returned()
    for page in pages:
        student, stage = page.parent.name, page.stem
        if stages and stage not in stages:
            continue
        submitted = course / "submitted" / student / stage
        if not all((submitted / name).is_file() for name in SUBMISSION_FILES):
            returned.skipped.append(
                f"{student}/{stage}: not submitted through the exchange "
                f"({submitted} has no {' and '.join(SUBMISSION_FILES)})"
            )
            continue
        if page.stat().st_mtime < (submitted / "timestamp.txt").stat().st_ctime:  # ctime: when collected
            returned.skipped.append(f"{student}/{stage}: a newer submission was collected after grading; grade again")
            continue
        target = course / "feedback" / student / stage
        target.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(page, target / f"{stage}.html")
        for name in SUBMISSION_FILES:
            shutil.copyfile(submitted / name, target / name)
        returned.released.setdefault(stage, []).append(student)
    return returned


def return_feedback(graded: Path, course: Path, stages: list[str] | None = None) -> Returned:
    """Place the pages, then release them to the exchange with nbgrader (one stage at a time)."""
    if not (course / "nbgrader_config.py").is_file():
        raise FeedbackError(f"{course} is not the course folder (no nbgrader_config.py): run this in the course folder")
    returned = place_feedback(graded, course, stages)
    for stage, students in returned.released.items():
        for student in students:
            run_nbgrader("release_feedback", stage, "--student", student, "--log-level=WARN", cwd=course)
    return returned


def command_return_feedback(args) -> int:
    course = Path(args.course).resolve()
    try:
        returned = return_feedback(
            Path(args.graded).resolve(), course, args.notebooks.split(",") if args.notebooks else None
        )
    except FeedbackError as error:
        print(f"error: {error}")
        return 2
    for stage, students in sorted(returned.released.items()):
        print(f"{stage}: feedback released to {', '.join(sorted(students))}")
    for line in returned.skipped:
        print(f"not returned: {line}")
    if not returned.released:
        print("No feedback was released.")
        return 1
    print("Students now see it in the Assignments tab (Fetch Feedback).")
    return 0


def add_return_feedback_parser(commands) -> None:
    parser = commands.add_parser(
        "return-feedback",
        help="release the grader's feedback pages through nbgrader's exchange (JupyterHub)",
        description="Put GRADED/feedback/ pages into the course's feedback/ folder and run nbgrader "
        "release_feedback, so that students fetch them in the Assignments tab.",
    )
    parser.add_argument("graded", metavar="GRADED", help="the --out folder of `python -m autograder grade`")
    parser.add_argument("--course", default=".", metavar="DIR", help="the course folder (default: here)")
    parser.add_argument("--notebooks", metavar="LIST", help="comma-separated stages (default: all graded)")
    parser.set_defaults(run=command_return_feedback)
