"""nbgrader configuration of the course.

nbgrader reads this file when it runs in the repository root (through ../nbgrader_config.py) or in this
folder. Paths are absolute, computed from this file, so every plain `nbgrader` command works from either place.
"""

import os

c = get_config()  # noqa: F821  (provided by nbgrader's config loader)

COURSE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

c.CourseDirectory.root = COURSE_ROOT
c.CourseDirectory.course_id = "qkv-attention"
# One assignment per stage; solutions/ is nbgrader's source folder, notebooks/ its release folder.
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "notebooks"
# The training stage trains for a few seconds; leave room for slower laptops.
c.ExecutePreprocessor.timeout = 180
c.Execute.timeout = 180

c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# Feedback must not show the hidden tests.
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "nbgrader.preprocessors.ClearHiddenTests",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]

# The release/collect exchange of nbgrader, kept inside the course (git-ignored), so the formgrader does not
# warn about a missing /usr/local/share/nbgrader/exchange. Stages are handed out as files from notebooks/.
EXCHANGE = os.path.join(COURSE_ROOT, ".exchange")
try:
    os.makedirs(EXCHANGE, exist_ok=True)
except OSError:
    pass  # a read-only checkout: the formgrader only warns
c.Exchange.root = EXCHANGE

# The feedback page renders its maths without internet (MathML) and fits figures to the page
# (autograder/grading/feedback_page.py). The course root goes on sys.path so that nbgrader, started from any folder,
# finds the module.
import sys  # noqa: E402

if COURSE_ROOT not in sys.path:
    sys.path.insert(0, COURSE_ROOT)
from autograder.grading.feedback_page import configure as configure_feedback_page  # noqa: E402

configure_feedback_page(c)
