"""The grading pipeline.

Owns: grading one notebook (`core.grade_notebook`, the only way a notebook is graded: the class command,
a grading service and cluster workers all call it), what runs inside the fresh worker process (`worker`),
the class command (`batch`), reading submissions (`collect`, `submission`), the tamper checks
(`integrity`, `integrity_kernel`), nbgrader preprocessors (`guarded_execute`, `preprocessors`), the
student's feedback page (`feedback`, `feedback_page`), reading nbgrader's results (`outcome`), the class's
gradebook (`classbook`), the tables (`report`, `roster`).
May import `autograder.isolation` and the top-level modules; never `autograder.release`.
"""
