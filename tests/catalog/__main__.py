"""`python -m tests.catalog [STAGE ...]`: grade the catalog and print mistake -> test -> message."""

import argparse
import sys
import tempfile
import time
from pathlib import Path

from . import ENTRIES
from .grading import grade
from .report import summary, table


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.catalog", description=__doc__)
    parser.add_argument("stages", nargs="*", help="stage prefixes such as 01 or 04_einsum (default: all)")
    parser.add_argument("--jobs", type=int, default=1, help="stages graded at the same time (default 1)")
    parser.add_argument("--keep", type=Path, help="grade in this folder and keep it (default: a temporary one)")
    args = parser.parse_args(argv)
    entries = [e for e in ENTRIES if not args.stages or any(e.stage.startswith(s) for s in args.stages)]
    if not entries:
        parser.error(f"no catalog entry belongs to a stage starting with {' or '.join(args.stages)}")
    start = time.monotonic()
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.keep or Path(scratch)
        outcomes = grade(entries, folder, jobs=args.jobs)
    print(table(outcomes.values()))
    print(summary(outcomes.values(), time.monotonic() - start))
    return 1 if any(outcome.problems() for outcome in outcomes.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
