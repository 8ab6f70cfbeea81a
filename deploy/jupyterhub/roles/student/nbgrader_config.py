"""nbgrader in a student's server: the class's course and exchange (set by the hub, jupyterhub_config.py).

The student id is the Unix account, which is the hub user name (LocalProcessSpawner).
"""

import os

c = get_config()  # noqa: F821
c.CourseDirectory.course_id = os.environ["QKV_COURSE_ID"]
c.Exchange.root = os.environ["QKV_EXCHANGE"]
# Validate runs the whole notebook: the training stage needs more than nbgrader's default 30 s per cell.
c.Execute.timeout = 180
c.ExecutePreprocessor.timeout = 180
