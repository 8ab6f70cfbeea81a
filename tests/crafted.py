"""Crafted student submissions for the grader's tests: correct, wrong, broken and hostile notebooks of 01_data.

Every notebook starts from the handed-out notebook (notebooks/) with the instructor's answers filled in
(examples/make_submissions.py) and is then changed in one way. `write_class(folder, students)` writes
folder/<student>/01_data.ipynb (or the bytes given) for each student.
"""

import importlib.util
import json
from pathlib import Path

import nbformat
from nbformat import v4

from autograder.course import ROOT

_spec = importlib.util.spec_from_file_location("make_submissions", ROOT / "examples" / "make_submissions.py")
examples = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(examples)

STAGE = "01_data"
WRONG_BATCH = ("y = (twos > fours).float().unsqueeze(1)", "y = torch.zeros(N, 1)")


def correct():
    return examples.answered(STAGE)


def wrong():
    """make_batch labels every sequence 0: the tests fail."""
    return examples.edit(correct(), "make_batch", *WRONG_BATCH)


def with_cell(notebook, source: str, after: str = "make_batch"):
    """Insert a student's own cell after the cell `after` (each with an id of its own)."""
    cell = v4.new_code_cell(source)
    index = next(i for i, c in enumerate(notebook.cells) if examples.grade_id(c) == after)
    notebook.cells.insert(index + 1, cell)
    return notebook


def cell(notebook, gid: str):
    [found] = [c for c in notebook.cells if examples.grade_id(c) == gid]
    return found


def without(notebook, *gids: str):
    notebook.cells = [c for c in notebook.cells if examples.grade_id(c) not in gids]
    return notebook


def as_v3(notebook) -> bytes:
    return nbformat.writes(nbformat.convert(notebook, 3), version=3).encode()


def with_kernel(notebook, name: str, language: str):
    notebook.metadata["kernelspec"] = {"name": name, "display_name": name, "language": language}
    notebook.metadata["language_info"] = {"name": language}
    return notebook


def tests_edited_and_renamed():
    """Wrong answer; the visible test replaced by `pass`, unlocked and worth 100 points; the hidden test
    renamed and emptied."""
    notebook = wrong()
    visible = cell(notebook, "test_make_batch")
    visible.source = "pass"
    visible.metadata["nbgrader"].update(locked=False, points=100)
    hidden = cell(notebook, "test_make_batch_hidden")
    hidden.source = "print('all good')"
    hidden.metadata["nbgrader"]["grade_id"] = "my_own_test"
    return notebook


LOOP = "while True:\n    pass"
LOOP_SWALLOWING_INTERRUPT = (
    "import time\nwhile True:\n    try:\n        time.sleep(0.05)\n    except KeyboardInterrupt:\n        pass"
)
MEMORY_BOMB = "chunks = []\nwhile True:\n    chunks.append(bytearray(200 * 1024 * 1024))"
OUTPUT_FLOOD = "print('x' * 5_000_000)\nfor i in range(20000):\n    print('spam', i)"
BIG_FILE = "with open('big.bin', 'wb') as handle:\n    handle.write(b'0' * (300 * 1024 * 1024))"
SLEEPER_SECONDS = 313  # the leftover child sleeps this long; tests look for it afterwards
LEFTOVER_CHILD = (
    "import multiprocessing, os\n"
    "def linger():\n    os.setsid()\n    os.execv('/bin/sleep', ['sleep', '" + str(SLEEPER_SECONDS) + "'])\n"
    "multiprocessing.Process(target=linger, daemon=False).start()"
)

AST_TRANSFORMER = """import ast
class NoAsserts(ast.NodeTransformer):
    def visit_Assert(self, node):
        return ast.Pass()
get_ipython().ast_transformers.append(NoAsserts())"""
INPUT_TRANSFORMER = "get_ipython().input_transformers_cleanup.append(lambda lines: ['pass\\n'])"
WRAPPED_RUN_CELL = """shell = get_ipython()
original = shell.run_cell_async
async def quiet(raw_cell, *args, **kwargs):
    if "assert" in raw_cell:
        raw_cell = "pass"
    return await original(raw_cell, *args, **kwargs)
shell.run_cell_async = quiet"""
ALWAYS_EQUAL = """class Anything(float):
    def __eq__(self, other):
        return True
    def __ne__(self, other):
        return False
_make_batch = make_batch
def make_batch(N):
    X, y = _make_batch(N)
    return X, [[Anything(0)] for _ in range(N)]"""
PATCHED_COMPARISONS = (
    "torch.equal = lambda a, b: True\n"
    "np.all = lambda *args, **kwargs: True\n"
    "torch.allclose = lambda *args, **kwargs: True"
)
# A patch the static scan cannot see (no name bound by import is assigned to): only the kernel check finds it.
SNEAKY_PATCH = "libraries = [torch]\nlibraries[0].allclose = lambda *args, **kwargs: True"
# Reads the gradebook (it holds the hidden tests) without naming open(): only the audit hook sees it.
SNEAKY_READ = "reader = [open][0]\nsecrets = reader('../../../gradebook.db', 'rb').read()"
# What the kernel's folder holds while it runs (nbgrader's copy there has the hidden tests; it must be gone).
LIST_OWN_FOLDER = "import os\nprint('FOLDER:', sorted(os.listdir('.')))"
# Patches the comparison around every cell but the grader's checks, and undoes it after: switched off at the
# first check, so the tests run unpatched (the static scan, whose findings are only notes, plays no part).
CALLBACK_PATCH = """originals = (torch.equal, np.all)
def patch(info):
    if "_check__(" not in (info.raw_cell or ""):  # not in the grader's check cells
        torch.equal = np.all = lambda *args, **kwargs: True
def unpatch(result):
    torch.equal, np.all = originals
get_ipython().events.register("pre_run_cell", patch)
get_ipython().events.register("post_run_cell", unpatch)"""
KILL_GRADER = "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)"


def write_class(folder: Path, students: dict) -> Path:
    """folder/<student>/<file> for {student: notebook | bytes | {file name: notebook | bytes}}."""
    for student, content in students.items():
        plain_dict = isinstance(content, dict) and not isinstance(content, nbformat.NotebookNode)
        files = content if plain_dict else {f"{STAGE}.ipynb": content}
        target = folder / student
        target.mkdir(parents=True, exist_ok=True)
        for name, item in files.items():
            if isinstance(item, bytes):
                (target / name).write_bytes(item)
            else:
                nbformat.write(item, target / name)
    return folder


def hostile_class() -> dict:
    """Students of the main grading run (each hands in 01_data, one way or another)."""
    return {
        "correct": correct(),
        "syntax_error": examples.edit(correct(), "make_batch", "(N, 10))", "(N, 10)"),
        "exception": examples.edit(correct(), "make_batch", "return X, y", "raise RuntimeError('not finished')"),
        "nothing": {},
        "pdf_only": {"report.pdf": b"%PDF-1.4 not a notebook"},
        "extras": {f"{STAGE}.ipynb": correct(), "notes.txt": b"hello", "data.csv": b"a,b\n1,2\n"},
        "corrupt": b'{"cells": [{"cell_type": "code", "source": "print(1)"',
        "binary": bytes(range(256)) * 10,
        "empty": b"",
        "not_a_notebook": json.dumps({"hello": "world"}).encode(),
        "old_format_r_kernel": as_v3(with_kernel(correct(), "ir", "R")),
        "deleted_tests": without(correct(), "test_make_batch", "test_make_batch_hidden", "setup"),
        "edited_tests": tests_edited_and_renamed(),
        "infinite_loop": with_cell(correct(), LOOP),
        "loop_ignoring_interrupt": with_cell(correct(), LOOP_SWALLOWING_INTERRUPT),
        "sys_exit": with_cell(correct(), "import sys\nsys.exit('bye')"),
        "os_exit": with_cell(correct(), "import os\nos._exit(3)"),
        "segfault": with_cell(correct(), "import ctypes\nctypes.string_at(0)"),
        "output_flood_big_file": with_cell(with_cell(correct(), OUTPUT_FLOOD), BIG_FILE),
        "leftover_child": with_cell(correct(), LEFTOVER_CHILD),
        "ast_transformer": with_cell(wrong(), AST_TRANSFORMER),
        "input_transformer": with_cell(wrong(), INPUT_TRANSFORMER),
        "wrapped_run_cell": with_cell(wrong(), WRAPPED_RUN_CELL),
        "always_equal": with_cell(correct(), ALWAYS_EQUAL),
        "patched_comparisons": with_cell(wrong(), PATCHED_COMPARISONS),
        "sneaky_patch": with_cell(wrong(), SNEAKY_PATCH),
        "callback_patch": with_cell(wrong(), CALLBACK_PATCH),
    }


def unsandboxed_class() -> dict:
    """Students of the run without the sandbox (what only its absence allows, and its replacements)."""
    return {
        "correct": correct(),
        "memory_bomb": with_cell(correct(), MEMORY_BOMB),
        "sneaky_read": with_cell(correct(), SNEAKY_READ),
        "kills_grader": with_cell(correct(), KILL_GRADER),
        "leftover_child": with_cell(correct(), LEFTOVER_CHILD),
    }
