"""Tamper detection: a submission must not make tests pass without being right.

Points are taken only on evidence that grading itself was changed; everything else is a note for the
instructor (grades.csv detail, tests.csv, the summary) and never a lost point. Two layers:

1. Checks that run in the kernel (autograder/grading/integrity_kernel.py): a baseline cell before all student code,
   and a check cell before and after every graded test cell. They compare IPython's machinery, sys hooks,
   builtins and the torch/numpy/math functions with the baseline (caches the standard library writes, such
   as copyreg's `__slotnames__` when a model is pickled, are data, not replaced functions), probe objects of
   notebook-defined classes that override comparisons (does it equal an unrelated object, NaN, a tensor of
   NaN?), and read an audit hook's record of file access, programs started and sockets. Each check always
   raises AutograderVerdict with its own random nonce, saying "ok" or "tampered: reasons", plus "noted:
   ..." for what is worth a look but changes no test (a shell command, a folder listed; in the sandbox also
   any try to open the grading files, which it cannot reach). GuardedExecute records the kernel's execute
   reply of these cells in the notebook's metadata (outside the kernel's reach). A check that reports
   tampering, or whose verdict is missing or wrong (errors swallowed, asserts stripped, cells skipped or
   rewritten), takes the credit of the test it follows (an after-check) or precedes (a before-check), and
   of every later test; the notebook is `flagged`. Tests that ran before keep their points.

2. A static scan of the student's own cells (every code cell that nbgrader does not restore from the
   gradebook), after IPython's own syntax translation (`!cmd`, `%magic`). It reports code that could bend
   grading (assignments to library objects, comparison dunders, IPython's machinery, reading files,
   programs, introspection, `exec`...). Its findings are only notes: a blocklist flags honest habits
   (`import os`, `%load_ext`, `torch.load` of the student's own file) and misses what it does not list,
   so what costs points is the effect the kernel checks see.

The instructor reviews flagged notebooks: the zeros are manual scores in the class gradebook
(autograder/grading/classbook.py), so Formgrader can give the points back after a look.

What this does not stop: code that knows this design and forges verdicts from inside the kernel, and
reading files when the sandbox is off before the audit hook sees it (the hook reports opening the
grading folders; opening them is evidence only where they exist, i.e. without the sandbox). The sandbox
(autograder/isolation/sandbox.py) removes the hidden tests and the gradebook from the kernel's view.
"""

import ast
import copy
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from autograder.grading.cells import grade_id, is_test
from autograder.grading.guarded_execute import META  # cell metadata key of all the grader adds or records

KERNEL_CODE = Path(__file__).with_name("integrity_kernel.py")
# showing things is no note: display(), Markdown, HTML, clear_output (the course's own training plot uses them)
DISPLAY_MODULES = ("IPython.display", "IPython.core.display")
VERDICT = "AutograderVerdict"

ALLOWED_MAGICS = {
    "matplotlib",
    "time",
    "timeit",
    "pinfo",
    "pinfo2",
    "psearch",
    "precision",
    "pprint",
    "who",
    "whos",
    "who_ls",
    "lsmagic",
    "autosave",
    "pwd",
    "magic",
    "quickref",
}
SUSPICIOUS_MODULES = {
    "ctypes",
    "gc",
    "inspect",
    "subprocess",
    "sqlite3",
    "socket",
    "importlib",
    "pty",
    "shutil",
    "glob",
    "pathlib",
    "builtins",
    "IPython",
    "ipykernel",
    "nbformat",
    "nbgrader",
    "nbclient",
    "jupyter_client",
    "unittest",
    "dis",
    "code",
    "codeop",
    "traceback",
    "marshal",
    "pickle",
    "zmq",
    "threading",
    "_thread",
    "signal",
    "resource",
    "mmap",
    "fcntl",
    "tempfile",
    "autograder",
}
OS_CALLS = {
    "system",
    "popen",
    "listdir",
    "scandir",
    "walk",
    "fwalk",
    "chdir",
    "fchdir",
    "open",
    "read",
    "fork",
    "forkpty",
    "execv",
    "execve",
    "execl",
    "execle",
    "execlp",
    "execlpe",
    "execvp",
    "execvpe",
    "spawnv",
    "spawnve",
    "spawnl",
    "spawnle",
    "posix_spawn",
    "posix_spawnp",
    "remove",
    "unlink",
    "rmdir",
    "removedirs",
    "rename",
    "replace",
    "symlink",
    "link",
    "kill",
    "killpg",
    "getcwd",
    "environ",
    "putenv",
    "setsid",
    "dup2",
}
SYS_ATTRIBUTES = {
    "_getframe",
    "settrace",
    "setprofile",
    "addaudithook",
    "modules",
    "meta_path",
    "path_hooks",
    "displayhook",
    "excepthook",
    "last_value",
    "last_traceback",
    "last_exc",
    "_current_frames",
    "exc_info",
}
DANGEROUS_NAMES = {
    "exec",
    "eval",
    "compile",
    "__import__",
    "globals",
    "locals",
    "vars",
    "setattr",
    "delattr",
    "get_ipython",
    "In",
    "Out",
    "_ih",
    "_oh",
    "_dh",
    "__builtins__",
}
LIBRARY_SETTINGS = ("plt.rcParams", "matplotlib.rcParams", "mpl.rcParams")  # styling, allowed
DANGEROUS_ATTRIBUTES = {
    "__dict__",
    "__code__",
    "__globals__",
    "__closure__",
    "__builtins__",
    "__subclasses__",
    "__bases__",
    "__mro__",
    "__func__",
    "__self__",
    "__wrapped__",
    "__defaults__",
    "__kwdefaults__",
    "f_back",
    "f_locals",
    "f_globals",
    "f_code",
    "tb_frame",
    "gi_frame",
    "cr_frame",
    "ast_transformers",
    "input_transformers_cleanup",
    "input_transformers_post",
    "input_transformer_manager",
    "run_cell",
    "run_cell_async",
    "run_ast_nodes",
    "run_code",
    "transform_cell",
    "prefilter_manager",
    "custom_exceptions",
    "set_custom_exc",
    "showtraceback",
    "user_ns",
    "register_magic_function",
    "read_text",
    "read_bytes",
    "iterdir",
    "rglob",
    "_implementation",
    "__torch_function__",
    "__torch_dispatch__",
    "__array_function__",
    "__array_ufunc__",
}
COMPARISON_DUNDERS = {
    "__eq__",
    "__ne__",
    "__lt__",
    "__le__",
    "__gt__",
    "__ge__",
    "__bool__",
    "__len__",
    "__float__",
    "__int__",
    "__index__",
    "__abs__",
    "__round__",
    "__instancecheck__",
    "__subclasscheck__",
    "__torch_function__",
    "__torch_dispatch__",
    "__array_function__",
    "__array_ufunc__",
    "__array__",
    "__getattribute__",
}
FILE_READERS = {
    ("np", "load"),
    ("np", "loadtxt"),
    ("np", "fromfile"),
    ("np", "genfromtxt"),
    ("numpy", "load"),
    ("numpy", "loadtxt"),
    ("numpy", "fromfile"),
    ("torch", "load"),
}
HISTORY_NAME = re.compile(r"^_i+\d*$|^_\d+$")


@dataclass(frozen=True)
class Finding:
    """One thing the static scan found (a note). cell: index in the notebook that was graded (None: the
    whole run)."""

    reason: str
    cell: int | None = None


def ipython_to_python(source: str) -> str:
    """The Python that IPython runs for a cell: `!ls` -> get_ipython().system('ls'), `%time x` -> ..."""
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(source)


class _Scanner(ast.NodeVisitor):
    """Collects reasons (short phrases) found in one cell's syntax tree."""

    def __init__(self, import_names: set[str]):
        self.import_names = import_names  # names bound by `import` anywhere in the notebook
        self.reasons: list[str] = []

    def add(self, reason: str) -> None:
        if reason not in self.reasons:
            self.reasons.append(reason)

    # -- imports -----------------------------------------------------------------------------------
    def visit_Import(self, node):
        for alias in node.names:
            self._module(alias.name)
        self.generic_visit(node)

    def visit_ImportFrom(self, node):
        self._module(node.module or "")
        if node.module in ("os", "sys"):
            for alias in node.names:
                if alias.name in OS_CALLS | SYS_ATTRIBUTES:
                    self.add(f"imports {node.module}.{alias.name}")
        self.generic_visit(node)

    def _module(self, name: str) -> None:
        top = name.split(".")[0]
        if top in SUSPICIOUS_MODULES - {"sys"} and not name.startswith(DISPLAY_MODULES):
            self.add(f"imports {name}")

    # -- changing libraries and builtins ------------------------------------------------------------
    def _root(self, node) -> str | None:
        while isinstance(node, (ast.Attribute, ast.Subscript)):
            node = node.value
        return node.id if isinstance(node, ast.Name) else None

    def _target(self, target) -> None:
        if isinstance(target, (ast.Tuple, ast.List)):
            for element in target.elts:
                self._target(element)
        elif isinstance(target, ast.Starred):
            self._target(target.value)
        elif isinstance(target, (ast.Attribute, ast.Subscript)):
            root = self._root(target)
            if ast.unparse(target).startswith(LIBRARY_SETTINGS):
                return
            if root in self.import_names or root in ("builtins", "__builtins__"):
                self.add(f"changes the library object `{ast.unparse(target)}`")
            elif isinstance(target, ast.Attribute) and (
                target.attr in COMPARISON_DUNDERS or target.attr == "__class__"
            ):
                self.add(f"sets `{ast.unparse(target)}`")

    def visit_Assign(self, node):
        for target in node.targets:
            self._target(target)
        self.generic_visit(node)

    def visit_AugAssign(self, node):
        self._target(node.target)
        self.generic_visit(node)

    def visit_AnnAssign(self, node):
        self._target(node.target)
        self.generic_visit(node)

    def visit_Delete(self, node):
        for target in node.targets:
            self._target(target)
        self.generic_visit(node)

    # -- classes --------------------------------------------------------------------------------------
    def visit_ClassDef(self, node):
        for base in node.bases:
            text = ast.unparse(base)
            if text.split(".")[-1] in ("Tensor", "ndarray", "Parameter"):
                self.add(f"class {node.name} subclasses {text}")
        for item in node.body:
            if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and item.name in COMPARISON_DUNDERS:
                self.add(f"class {node.name} defines {item.name}")
            if isinstance(item, ast.Assign):
                for target in item.targets:
                    if isinstance(target, ast.Name) and target.id in COMPARISON_DUNDERS:
                        self.add(f"class {node.name} defines {target.id}")
        self.generic_visit(node)

    def visit_Constant(self, node):
        if isinstance(node.value, str):
            if node.value in COMPARISON_DUNDERS:
                self.add(f"uses the name {node.value!r}")
            if "autograder" in node.value.lower() or "BEGIN HIDDEN" in node.value or "gradebook" in node.value:
                self.add("refers to the grader, the gradebook or the hidden tests")

    # -- names and attributes -------------------------------------------------------------------------
    def visit_Name(self, node):
        if node.id in DANGEROUS_NAMES or HISTORY_NAME.match(node.id):
            self.add(f"uses `{node.id}`")
        if "autograder" in node.id.lower():
            self.add("refers to the grader's own checks")
        self.generic_visit(node)

    def visit_Attribute(self, node):
        root = self._root(node)
        if node.attr in DANGEROUS_ATTRIBUTES:
            self.add(f"uses `.{node.attr}`")
        if root == "os" and isinstance(node.value, ast.Name) and node.attr in OS_CALLS:
            self.add(f"uses os.{node.attr}")
        if root == "sys" and isinstance(node.value, ast.Name) and node.attr in SYS_ATTRIBUTES:
            self.add(f"uses sys.{node.attr}")
        if isinstance(node.value, ast.Name) and (node.value.id, node.attr) in FILE_READERS:
            self.add(f"reads files with {node.value.id}.{node.attr}")
        if "autograder" in node.attr.lower():
            self.add("refers to the grader's own checks")
        self.generic_visit(node)

    def visit_Call(self, node):
        func = node.func
        if isinstance(func, ast.Name) and func.id == "open" or ast.unparse(func) == "io.open":
            if not _writes_only(node):
                self.add("opens files for reading")
        if _is_get_ipython_call(func):
            magic = _magic_name(node)
            if magic in ALLOWED_MAGICS:
                if magic in ("time", "timeit") and node.args and isinstance(node.args[-1], ast.Constant):
                    self._timed_code(str(node.args[-1].value))
                return
            self.add(f"runs the IPython command `{magic}`" if magic else "uses get_ipython()")
            for argument in node.args:
                self.visit(argument)
            return
        self.generic_visit(node)

    def _timed_code(self, code: str) -> None:
        """The statement of `%time` / `%timeit` (after its options) or the body of `%%time`."""
        words = code.strip().split(" ")
        while words and words[0].startswith("-"):
            option = words.pop(0)
            if option in ("-n", "-r", "-p") and words and words[0].isdigit():
                words.pop(0)
        try:
            self.visit(ast.parse(ipython_to_python(" ".join(words) if "\n" not in code else code)))
        except (SyntaxError, ValueError):
            self.add("times code the grader cannot read")


def _writes_only(call: ast.Call) -> bool:
    """open(..., "w") and the like: the mode is a literal without reading."""
    mode = call.args[1] if len(call.args) > 1 else next((k.value for k in call.keywords if k.arg == "mode"), None)
    return (
        isinstance(mode, ast.Constant)
        and isinstance(mode.value, str)
        and "r" not in mode.value
        and "+" not in mode.value
        and any(c in mode.value for c in "wax")
    )


def _is_get_ipython_call(func) -> bool:
    """get_ipython().run_line_magic / run_cell_magic / system / getoutput(...)."""
    return (
        isinstance(func, ast.Attribute)
        and isinstance(func.value, ast.Call)
        and isinstance(func.value.func, ast.Name)
        and func.value.func.id == "get_ipython"
    )


def _magic_name(call: ast.Call) -> str | None:
    method = call.func.attr
    if method in ("system", "getoutput"):
        return "!" + (call.args[0].value if call.args and isinstance(call.args[0], ast.Constant) else "")
    if method in ("run_line_magic", "run_cell_magic") and call.args and isinstance(call.args[0], ast.Constant):
        return str(call.args[0].value)
    return None


def import_names(sources: list[str]) -> set[str]:
    """Names bound by `import` statements in any of the cells (modules and things imported from them)."""
    names = set()
    for source in sources:
        try:
            tree = ast.parse(ipython_to_python(source))
        except (SyntaxError, ValueError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for alias in node.names:
                    names.add((alias.asname or alias.name).split(".")[0])
    return names


def scan_cell(source: str, imported: set[str]) -> list[str]:
    """Reasons to flag one student cell; [] when it is clean or is not valid Python (it then fails to run)."""
    try:
        tree = ast.parse(ipython_to_python(source))
    except (SyntaxError, ValueError):
        return []
    scanner = _Scanner(imported | import_names([source]))
    scanner.visit(tree)
    return scanner.reasons


def scan_notebook(cells: list, student_cell: list[bool]) -> list[Finding]:
    """Static findings for the code cells marked True in student_cell (a list parallel to cells)."""
    imported = import_names([c.source for c in cells if c.cell_type == "code"])
    findings = []
    for index, (cell, mine) in enumerate(zip(cells, student_cell)):
        if mine and cell.cell_type == "code":
            findings += [Finding(f"cell {index + 1} {reason}", index) for reason in scan_cell(cell.source, imported)]
    return findings


# -- cells the grader injects --------------------------------------------------------------------------


def new_nonce() -> str:
    return "ag" + secrets.token_hex(8)


def baseline_source(protected: list[str], nonce: str, sandbox: bool = False) -> str:
    """The first cell: record the baseline, install the audit hook, then raise the first verdict. The check
    is also a builtin, so that a student's `%reset -f` (which empties the namespace) does not remove it."""
    settings = {"protected": [str(p) for p in protected], "sandbox": bool(sandbox)}
    return (
        KERNEL_CODE.read_text(encoding="utf-8")
        + f"\n__autograder_check__ = install({settings!r})\ndel install\n"
        + "__import__('builtins').__autograder_check__ = __autograder_check__\n"
        + f"__autograder_check__({nonce!r})\n"
    )


def check_source(nonce: str) -> str:
    return f"__autograder_check__({nonce!r})\n"


def inject_checks(notebook, protected: list[str], sandbox: bool = False):
    """A copy of `notebook` with the baseline cell first and a check cell before and after every test.
    Every original cell gets metadata autograder.position (its index in `notebook`)."""
    from nbformat import v4

    result = copy.deepcopy(notebook)
    cells = []
    nonce = new_nonce()
    first = v4.new_code_cell(baseline_source(protected, nonce, sandbox))
    first.metadata[META] = {"role": "check", "nonce": nonce, "check": "baseline"}
    cells.append(first)
    for position, cell in enumerate(result.cells):
        cell.metadata[META] = {"position": position}
        test = is_test(cell)
        if test:
            cells.append(_check_cell("before", grade_id(cell)))
        cells.append(cell)
        if test:
            cells.append(_check_cell("after", grade_id(cell)))
    result.cells = cells
    return result


def _check_cell(when: str, gid: str):
    from nbformat import v4

    nonce = new_nonce()
    cell = v4.new_code_cell(check_source(nonce))
    cell.metadata[META] = {"role": "check", "nonce": nonce, "check": when, "test": gid}
    return cell


def read_verdict(cell, nonce: str) -> tuple[str, str]:
    """('ok' | 'tampered' | 'missing' | 'not_run', detail) from a check cell executed by GuardedExecute."""
    record = cell.get("metadata", {}).get(META, {})
    if record.get("event") in ("not_run", "timeout", "kernel_died"):
        return "not_run", ""
    reply = record.get("reply")
    if not reply:
        return "missing", "the grader's check cell was not executed normally"
    if reply.get("status") != "error" or reply.get("ename") != VERDICT:
        return "missing", "the grader's check cell did not report (its errors were hidden or its code was changed)"
    value = reply.get("evalue", "").split("\nnoted: ")[0]
    if value == f"{nonce} ok":
        return "ok", ""
    if value.startswith(f"{nonce} tampered: "):
        return "tampered", value[len(nonce) + len(" tampered: ") :]
    return "missing", "the grader's check cell reported a forged verdict"


def verdict_notes(cell) -> list[str]:
    """What a check cell noted without calling it tampering (programs started, folders listed...)."""
    reply = cell.get("metadata", {}).get(META, {}).get("reply") or {}
    if reply.get("ename") != VERDICT or "\nnoted: " not in (reply.get("evalue") or ""):
        return []
    return [note for note in reply["evalue"].split("\nnoted: ", 1)[1].split("; ") if note]
