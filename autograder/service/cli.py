"""`python -m autograder serve` and `python -m autograder serve-control`."""

import logging
import signal
import sys
import threading
from pathlib import Path

from autograder.course import STAGES
from autograder.grading.batch import default_jobs
from autograder.grading.core import SandboxUnavailable
from autograder.isolation.limits import Limits
from autograder.service.control import Control, service_folder
from autograder.service.server import DEFAULT_COURSE_ID, DEFAULT_PER_HOUR, Service, ServiceError, Settings


def add_serve_parsers(commands) -> None:
    defaults = Limits()
    parser = commands.add_parser(
        "serve",
        help="grade every submission in nbgrader's exchange as it arrives; feedback within seconds",
        description="Watch EXCHANGE/COURSE_ID/inbound/ for what `nbgrader submit` writes, grade each new "
        "submission, publish its feedback where `nbgrader fetch_feedback` finds it, and keep the "
        "course folder's gradebook and grades.csv up to date. Runs until SIGTERM or Ctrl-C.",
    )
    parser.add_argument(
        "--course",
        type=Path,
        required=True,
        metavar="COURSE_ROOT",
        help="the instructor's nbgrader course folder (created if missing): gradebook.db, "
        "autograded/, grades.csv; the service's journal goes to COURSE_ROOT/autograder-service/",
    )
    parser.add_argument(
        "--exchange",
        type=Path,
        required=True,
        metavar="EXCHANGE_ROOT",
        help="nbgrader's exchange root (its Exchange.root)",
    )
    parser.add_argument(
        "--course-id", default=DEFAULT_COURSE_ID, help=f"nbgrader's course id (default: {DEFAULT_COURSE_ID})"
    )
    parser.add_argument("--notebooks", metavar="LIST", help="comma-separated stages to grade (default: all)")
    parser.add_argument(
        "--jobs",
        type=int,
        default=None,
        metavar="N",
        help=f"notebooks graded at the same time (default: {default_jobs()} here)",
    )
    parser.add_argument(
        "--max-per-hour",
        type=int,
        default=DEFAULT_PER_HOUR,
        metavar="N",
        help=f"graded submissions per student and hour; more get a page saying when to submit "
        f"again (default: {DEFAULT_PER_HOUR}; 0: no limit)",
    )
    parser.add_argument(
        "--poll",
        type=float,
        default=0.25,
        metavar="SECONDS",
        help="how often the inbound folder is read (default: 0.25)",
    )
    parser.add_argument("--no-sandbox", action="store_true", help="run student code without the sandbox")
    parser.add_argument(
        "--require-sandbox", action="store_true", help="refuse to start on a machine that cannot sandbox student code"
    )
    parser.add_argument("--cold-kernels", action="store_true", help="no warm servers (slower)")
    parser.add_argument(
        "--cell-timeout",
        type=int,
        default=defaults.cell_timeout,
        metavar="SECONDS",
        help=f"limit of one cell (default: {defaults.cell_timeout})",
    )
    parser.add_argument(
        "--notebook-timeout",
        type=int,
        default=defaults.notebook_timeout,
        metavar="SECONDS",
        help=f"limit of all cells together (default: {defaults.notebook_timeout})",
    )
    parser.add_argument(
        "--memory",
        type=int,
        default=defaults.memory,
        metavar="MB",
        help=f"the kernel's address space (default: {defaults.memory})",
    )
    parser.set_defaults(run=command_serve)

    control = commands.add_parser(
        "serve-control",
        help="turn the grading service off or on for a stage (e.g. after the deadline)",
        description="Turn automatic grading of a stage off or on; the running service follows at once.",
    )
    control.add_argument(
        "--course",
        type=Path,
        default=Path("."),
        metavar="COURSE_ROOT",
        help="the course folder the service serves (default: here)",
    )
    control.add_argument("action", choices=["disable", "enable", "status"])
    control.add_argument("stages", nargs="*", metavar="STAGE", help=f"one or more of {', '.join(STAGES)}")
    control.set_defaults(run=command_serve_control)


def command_serve(args) -> int:
    stages = [s.strip() for s in args.notebooks.split(",") if s.strip()] if args.notebooks else list(STAGES)
    unknown = [s for s in stages if s not in STAGES]
    problems = []
    if unknown:
        problems.append(f"--notebooks: unknown stage(s) {', '.join(unknown)}; the course has {', '.join(STAGES)}")
    if args.jobs is not None and args.jobs < 1:
        problems.append(f"--jobs must be at least 1, not {args.jobs}")
    if args.max_per_hour < 0:
        problems.append(f"--max-per-hour must be 0 (no limit) or more, not {args.max_per_hour}")
    if not args.exchange.is_dir():
        problems.append(f"--exchange {args.exchange} is not a folder (nbgrader's Exchange.root must exist)")
    if args.course.exists() and not args.course.is_dir():
        problems.append(f"--course {args.course} is a file, not a folder")
    try:
        limits = Limits(cell_timeout=args.cell_timeout, notebook_timeout=args.notebook_timeout, memory=args.memory)
    except ValueError as error:
        problems.append(str(error))
    if args.poll <= 0:
        problems.append(f"--poll must be more than 0 seconds, not {args.poll}")
    if problems:
        print(f"error: {problems[0]}", file=sys.stderr)
        return 2
    settings = Settings(
        args.course,
        args.exchange,
        args.course_id,
        stages,
        args.jobs or 0,
        args.max_per_hour,
        args.poll,
        limits=limits,
        sandbox=not args.no_sandbox,
        require_sandbox=args.require_sandbox,
        warm=not args.cold_kernels,
    )
    service_folder(args.course).mkdir(parents=True, exist_ok=True)
    _log_to(service_folder(args.course) / "service.log")
    service = Service(settings)
    stop = lambda *_: service.stop(kill_gradings=True)  # noqa: E731
    signal.signal(signal.SIGTERM, stop)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, stop)
    try:
        service.run()
    except (ServiceError, SandboxUnavailable) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


def _log_to(path: Path) -> None:
    """Log lines on stderr (the hub's log) and in the service's folder."""
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%Y-%m-%d %H:%M:%S")
    logger = logging.getLogger("autograder.service")
    logger.setLevel(logging.INFO)
    logger.propagate = False  # the command line's own stderr handler would print each line again
    for handler in (logging.StreamHandler(sys.stderr), logging.FileHandler(path, encoding="utf-8")):
        handler.setFormatter(formatter)
        logger.addHandler(handler)


def command_serve_control(args) -> int:
    control = Control(args.course)
    if args.action != "status" and not args.stages:
        print(f"error: name the stage(s) to {args.action}, e.g. `serve-control {args.action} 01_data`", file=sys.stderr)
        return 2
    for stage in args.stages:
        if stage not in STAGES:
            print(f"error: unknown stage {stage!r}; the course has {', '.join(STAGES)}", file=sys.stderr)
            return 2
    if args.action == "status":
        disabled = control.disabled()
        for stage in args.stages or STAGES:
            print(f"{stage}: automatic grading " + (f"off since {disabled[stage]}" if stage in disabled else "on"))
        return 0
    for stage in args.stages:
        changed = control.set(stage, enabled=args.action == "enable")
        state = "on" if args.action == "enable" else "off"
        print(f"{stage}: automatic grading {state}" + ("" if changed else " (it already was)"))
    return 0
