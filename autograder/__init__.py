"""The course's instructor tooling, in three layers (`python -m autograder COMMAND`):

- `autograder.release`   builds the student notebooks from `solutions/` (nbgrader generate_assignment,
                         figures, stored outputs). Imports: the top-level modules only.
- `autograder.grading`   grades submissions: `grade_notebook` grades one notebook (the one way to grade);
                         the class command, collecting, integrity checks, reports. Imports: isolation, top level.
- `autograder.service`   the class hub's side: the grading service (`python -m autograder serve`: feedback
                         seconds after Submit) and returning the grader's pages through nbgrader's exchange.
                         Imports: grading, isolation, top level.
- `autograder.lms`       grades back into Moodle and Canvas (`python -m autograder export`): reads the
                         grader's output folder. Imports: grading, top level.
- `autograder.isolation` where student code runs: limits, the bubblewrap sandbox, warm servers that fork
                         fresh workers and kernels. Imports nothing of the other layers.

Top level: `course` (where the course lives), `nbgrader_cli` (running nbgrader), `nbgrader_config` (the
course's nbgrader settings, read by nbgrader itself), `__main__` (the command line).
"""
