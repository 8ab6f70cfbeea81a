"""Release tooling: `solutions/` (nbgrader's source format) -> `notebooks/` (what students get).

Owns: generating the student notebooks and checking drift (`generate`), rendering and embedding the
figures (`figures`), re-running the solutions to store their outputs (`execute`). May import
`autograder.course` and `autograder.nbgrader_cli`; never the grading or isolation layers.
"""
