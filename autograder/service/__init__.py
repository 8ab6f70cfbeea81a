"""The grading service: feedback seconds after a student presses Submit (`python -m autograder serve`).

A long-running process beside nbgrader's exchange (started by JupyterHub as a managed service, or by the
instructor). It watches EXCHANGE/COURSE_ID/inbound/ for submissions that `nbgrader submit` wrote, grades each
with `grade_notebook` (one Grader: the sandbox and the warm servers, as the class command), and publishes the
feedback page where `nbgrader fetch_feedback` (the Assignments tab) finds it. It keeps the instructor's nbgrader
course (gradebook.db, autograded/, feedback/) and grades.csv up to date; written answers wait in Formgrader.

Modules, one responsibility each:
  exchange      nbgrader's exchange layout: submission folders, their secret, where a feedback page goes
  journal       the service's memory on disk (one fsynced line per step): queued, graded, published
  fair_queue    round-robin over students; a newer submission replaces a queued older one
  pages         the student's pages: the summary on top of nbgrader's feedback, the short pages
  course_book   the instructor's course folder: gradebook, autograded copies, grades.csv
  control       turning grading off per stage (`python -m autograder serve-control disable 01_data`)
  server        the service itself: scanning, rate limits, workers, publishing, recovery after a crash
  hub           the JupyterHub `services` entry that starts it
  cli           the `serve` and `serve-control` commands
  return_feedback   `python -m autograder return-feedback`: the class command's pages back through the exchange
"""
