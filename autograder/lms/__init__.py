"""Grades back into the LMS: `python -m autograder export OUT --lms moodle|canvas|plain`.

(grading/roster.py: students.csv, who each graded student is in the LMS, written by `grade`, read here)
scores.py    the points of each student and stage: grades.csv, tests.csv and the nbgrader gradebook
             (written answers graded in Formgrader, scores changed there)
sheet.py     reading and writing a CSV file as the LMS wrote it (BOM, separator, quoting, line ends)
fill.py      what filling a file did (counts, rows kept, students not exported), points scaled to the LMS maximum
moodle.py    Moodle's grading worksheet ("Upload grading worksheet")
canvas.py    Canvas's gradebook import CSV ("Import" in Grades)
export.py    the command: choose the stages, the file, fill or write it, list who was not matched
"""
