"""nbgrader in the instructor's server: the Formgrader works on the course folder (set by the hub).

The course folder's own nbgrader_config.py (written by hubclass.py) holds the course's settings and the
class's exchange, so that `nbgrader` in a terminal there does the same as the Formgrader.
"""

import os

c = get_config()  # noqa: F821
c.CourseDirectory.root = os.environ["QKV_COURSE_ROOT"]
load_subconfig(os.path.join(os.environ["QKV_COURSE_ROOT"], "nbgrader_config.py"))  # noqa: F821
