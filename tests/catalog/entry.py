"""One catalog entry: a realistic student answer to one exercise, and what grading must do with it.

Three kinds:
- `mistake`:  a wrong answer. It must lose exactly the points of the tests in `fails`, and the error shown
              by the first of them (list first the test whose feedback names the mistake, usually the
              visible one) must contain the phrase `says`.
- `correct`:  another right way to write the answer. It must score full marks.
- `accepted`: a weakness the tests deliberately let through; `why` says why behaviour cannot (or should
              not) catch it. It must score full marks, so the catalog notices if that ever changes.

`code` is what the student types in place of the stub `# YOUR CODE HERE / raise NotImplementedError()`:
a string for a cell with one stub, or a dict {method name: code} for a cell with several (the methods not
named keep the reference answer). Indentation is added automatically.
"""

from dataclasses import dataclass

KINDS = ("mistake", "correct", "accepted")


@dataclass(frozen=True)
class Entry:
    name: str  # also the nbgrader student id: letters, digits and underscores
    stage: str  # e.g. "01_data"
    cell: str  # grade_id of the solution cell the code goes into
    code: str | dict  # the student's code (see the module docstring)
    kind: str  # one of KINDS
    fails: tuple = ()  # grade_ids of the tests that must lose points (mistakes only)
    says: str = ""  # a phrase the first failing test's error must contain (mistakes only)
    why: str = ""  # for `accepted`: why the tests let it through

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"{self.name}: kind must be one of {KINDS}, not {self.kind!r}")
        if not self.name.replace("_", "").isalnum():
            raise ValueError(f"{self.name!r}: use letters, digits and underscores only (it is a student id)")
        if self.kind == "mistake" and not (self.fails and self.says):
            raise ValueError(f"{self.name}: a mistake needs the tests it fails and a phrase of the feedback")
        if self.kind != "mistake" and self.fails:
            raise ValueError(f"{self.name}: only mistakes fail tests")
        if self.kind == "accepted" and not self.why:
            raise ValueError(f"{self.name}: say why the tests accept it")


def entries_of(stage: str):
    """Constructors bound to one stage, so that the stage modules stay short:
    mistake(name, cell, code, fails, says), correct(name, cell, code), accepted(name, cell, code, why)."""

    def mistake(name, cell, code, fails, says):
        fails = (fails,) if isinstance(fails, str) else tuple(fails)
        return Entry(name, stage, cell, code, "mistake", fails, says)

    def correct(name, cell, code):
        return Entry(name, stage, cell, code, "correct")

    def accepted(name, cell, code, why):
        return Entry(name, stage, cell, code, "accepted", why=why)

    return mistake, correct, accepted
