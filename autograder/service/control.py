"""Turning automatic grading off and on per stage, e.g. after the deadline.

The switch is a file in the service's folder, COURSE_ROOT/autograder-service/disabled.json
({stage: when it was turned off}), so the instructor can change it while the service runs (it reads the file
again before every submission) and it survives restarts:

    python -m autograder serve-control --course COURSE_ROOT disable 01_data
    python -m autograder serve-control --course COURSE_ROOT enable 01_data
    python -m autograder serve-control --course COURSE_ROOT status

A submission of a disabled stage is not graded: the student gets a page saying so, the gradebook keeps the
latest graded submission (the one before the deadline), and the instructor can still collect it by hand.
"""

import json
import time
from pathlib import Path

from autograder.course import STAGES
from autograder.service.exchange import write_durably

SERVICE_FOLDER = "autograder-service"
DISABLED_FILE = "disabled.json"


def service_folder(course_root: Path) -> Path:
    return Path(course_root) / SERVICE_FOLDER


class Control:
    def __init__(self, course_root: Path):
        self.path = service_folder(course_root) / DISABLED_FILE

    def disabled(self) -> dict[str, str]:
        """{stage: since when}; a missing or unreadable file turns nothing off."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}

    def is_disabled(self, stage: str) -> bool:
        return stage in self.disabled()

    def set(self, stage: str, enabled: bool) -> bool:
        """Turn grading of `stage` on or off; returns whether that changed anything."""
        if stage not in STAGES:
            raise ValueError(f"unknown stage {stage!r}; the course has {', '.join(STAGES)}")
        disabled = self.disabled()
        if enabled == (stage not in disabled):
            return False
        if enabled:
            del disabled[stage]
        else:
            disabled[stage] = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
        write_durably(self.path, (json.dumps(disabled, indent=1, sort_keys=True) + "\n").encode())
        return True
