"""nbgrader's configuration for grading, as traitlets `Config` objects.

`course_config(root)`: the course's own settings (autograder/nbgrader_config.py, what plain `nbgrader`
commands read) for a course folder at `root` with nbgrader's usual source/ and release/ folders.
`autograde_config(limits, kernel_args)`: what grading one notebook adds: the grader's execute preprocessor
in place of nbgrader's, its limits, the kernel (sandboxed or limited), and the feedback exporter.
"""

from pathlib import Path

from traitlets.config import Config
from traitlets.config.loader import KVArgParseConfigLoader, PyFileConfigLoader

from autograder.course import CONFIG
from autograder.isolation.limits import Limits

# nbgrader's autograde list, with nbgrader's Execute replaced by the grader's
AUTOGRADE_PREPROCESSORS = [
    "autograder.grading.guarded_execute.GuardedExecute",
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "nbgrader.preprocessors.SaveAutoGrades",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
]


def course_config(root: Path) -> Config:
    """The course's nbgrader settings, moved to the course folder `root`."""
    config = PyFileConfigLoader(CONFIG.name, path=str(CONFIG.parent)).load_config()
    config.CourseDirectory.root = str(Path(root).resolve())
    config.CourseDirectory.source_directory = "source"
    config.CourseDirectory.release_directory = "release"
    return config


def autograde_config(limits: Limits, kernel_args: list[str] = ()) -> Config:
    """Settings for autograding one notebook under `limits`; kernel_args: the command-line options of
    sandbox.kernel_setup / unsandboxed.kernel_setup that select the kernel."""
    config = Config()
    config.Autograde.autograde_preprocessors = list(AUTOGRADE_PREPROCESSORS)
    config.GuardedExecute.timeout = limits.cell_timeout
    config.GuardedExecute.notebook_timeout = limits.notebook_timeout
    config.GuardedExecute.max_notebook_output = limits.output * 1_000_000
    config.GuardedExecute.startup_timeout = 120
    config.GuardedExecute.extra_arguments = ["--HistoryManager.hist_file=:memory:"]
    config.GenerateFeedback.exporter_class = "autograder.grading.feedback.FeedbackExporter"
    if kernel_args:
        config.merge(KVArgParseConfigLoader(argv=list(kernel_args)).load_config())
    return config
