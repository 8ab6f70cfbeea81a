"""The grader's own passes over a notebook, as nbconvert preprocessors (`preprocess(nb, resources)`).

They run around nbgrader's autograde, in the worker (worker.py), and hand their findings on in
`resources["autograder"]`, the nbconvert way of passing per-notebook data between passes:

- `InjectIntegrityChecks` (before autograde): the grader's check cells around every test (integrity.py).
  Needs `protected`, the folders the kernel may not read, and whether the kernel runs in the sandbox.
- `RecordTampering` (after autograde): reads the verdicts and events the execute preprocessor recorded
  (guarded_execute.py), combines them with the static findings (resources["autograder"]["findings"]) and
  stores the Analysis and the tests that get no credit (outcome.py) in resources["autograder"].
- `StudentFeedback` (before the feedback page): removes the grader's cells and hidden tests' error details,
  adds the grader's notes (resources["autograder"]: analysis, tainted, notes).
"""

from nbconvert.preprocessors import Preprocessor
from traitlets import Bool, List, Unicode

from autograder.grading import integrity
from autograder.grading.outcome import analyse, feedback_notebook, tainted_tests

KEY = "autograder"


class InjectIntegrityChecks(Preprocessor):
    protected = List(Unicode(), help="folders the student's kernel may not read").tag(config=True)
    sandbox = Bool(False, help="the kernel runs in the sandbox (it cannot reach the protected folders)").tag(
        config=True
    )

    def preprocess(self, nb, resources):
        return integrity.inject_checks(nb, list(self.protected), self.sandbox), resources


class RecordTampering(Preprocessor):
    def preprocess(self, nb, resources):
        record = resources.setdefault(KEY, {})
        analysis = analyse(nb, record.get("findings", []))
        record["analysis"] = analysis
        record["tainted"] = tainted_tests(nb, analysis)
        return nb, resources


class StudentFeedback(Preprocessor):
    def preprocess(self, nb, resources):
        record = resources[KEY]
        return feedback_notebook(nb, record["analysis"], record["tainted"], list(record.get("notes", []))), resources
