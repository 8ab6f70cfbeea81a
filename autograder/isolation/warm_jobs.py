"""Grading workers that start warm: each notebook still gets a fresh process of its own, forked from a
server that has already imported the grader and nbgrader (a fresh `python` spends about 2 s on that).

`start_server(folder)` starts `python -m autograder.isolation.warm_jobs SOCKET READY_FD`, which imports WARM_MODULES
once. `run_job(job, marker, socket_path)` does what autograder.grading.grade.run_job does (a process with a hard
time limit, its log, its result file; a crash is an `error` row), but the process is forked by that server:
in its own session (so the whole group can be killed, also by Ctrl-C through grade.stop_all_jobs), with
stdout/stderr going to the job's log. Student code never runs in the server or in the worker: it runs in
the kernel that the worker starts in the sandbox. Without a server (socket_path None or it does not answer)
the job runs in a fresh interpreter (grade.run_job). Linux/macOS only (fork).

Protocol (one unix-socket connection per job): the client sends one JSON line {job, result, log, marker};
the server answers "<pid>\\n"; the worker itself writes "exit <code>\\n" to the same connection when it ends.
A connection that closes without it means the worker was killed or crashed.
"""
import json
import os
import signal
import socket
import sys
from pathlib import Path

from autograder.grading import grade

WARM_MODULES = ["autograder.grading.grade", "autograder.grading.submission", "autograder.grading.integrity", "autograder.grading.outcome",
                "autograder.grading.workspace", "autograder.grading.guarded_execute", "autograder.isolation.sandbox", "autograder.isolation.limits",
                "nbformat", "nbgrader.apps", "nbgrader.api", "nbgrader.converters", "nbgrader.preprocessors",
                "nbconvert", "nbconvert.exporters", "jupyter_client", "nbclient", "psutil", "sqlalchemy", "bs4"]


class _Worker:
    """A running worker as grade._RUNNING knows processes: by pid (its process group)."""

    def __init__(self, pid: int):
        self.pid = pid


def run_job(job: grade.Job, run_marker: str = "", socket_path: str | None = None) -> grade.NotebookResult:
    """grade_notebook(job) in a fresh process forked by the worker server, with a hard time limit; never raises."""
    if not socket_path:
        return grade.run_job(job, run_marker)
    scratch = Path(job.scratch)
    scratch.mkdir(parents=True, exist_ok=True)
    job_file, result_file = scratch / "job.json", scratch / "result.json"
    log_file = scratch.parent / f"{scratch.name}.log"
    job_file.write_text(job.to_json(), encoding="utf-8")
    hard_limit = job.limits.notebook_timeout + 300
    request = {"job": str(job_file), "result": str(result_file), "log": str(log_file), "marker": run_marker}
    try:
        connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        connection.settimeout(60)
        connection.connect(socket_path)
        connection.sendall(json.dumps(request).encode() + b"\n")
        reader = connection.makefile("rb")
        pid = int(reader.readline())
    except (OSError, ValueError) as error:  # no server: the same job in a fresh interpreter
        print(f"warm_jobs: the worker server did not answer ({error}); using a fresh interpreter", file=sys.stderr)
        return grade.run_job(job, run_marker)
    worker = _Worker(pid)
    grade.register(worker)  # Ctrl-C: grade.stop_all_jobs kills its process group
    try:
        connection.settimeout(hard_limit)
        try:
            ending = reader.readline()
        except TimeoutError:
            grade._kill_group(worker)
            return grade._failed(job, "timeout", f"grading took longer than {hard_limit} s and was stopped")
    finally:
        grade._RUNNING.discard(worker)
        reader.close()
        connection.close()
    grade._kill_group(worker)  # anything the worker left in its session
    code = ending.split()[1].decode() if ending.startswith(b"exit ") else "unknown (the worker was killed)"
    if code != "0" or not result_file.exists():
        return grade._failed(job, "error", f"the grading process ended with exit code {code}")
    try:
        return grade.NotebookResult.from_dict(json.loads(result_file.read_text(encoding="utf-8")))
    except (ValueError, TypeError) as error:
        return grade._failed(job, "error", f"the grading process left an unreadable result ({error})")


# -- the server ------------------------------------------------------------------------------------------------

def _work(connection: socket.socket, request: dict) -> None:
    """In the forked worker: a session of its own, output to the log, then what `python -m autograder.grading.grade`
    does; its exit code goes back over the connection. Never returns."""
    code = 1
    try:
        os.setsid()
        log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(log)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        os.environ["AUTOGRADER_RUN"] = request["marker"]
        from time import monotonic

        grade._STARTED = monotonic()  # the log's clock starts with the job, not with the server
        code = grade._main(["autograder.grading.grade", request["job"], request["result"]])
    except SystemExit as exit:
        code = exit.code if isinstance(exit.code, int) else 1
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        try:
            connection.sendall(f"exit {code}\n".encode())
        except OSError:
            pass
        os._exit(code)


def _reap(*_):
    try:
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass
    except ChildProcessError:
        pass


def share_compiled_templates() -> None:
    """Give every nbconvert template environment of this process one in-memory Jinja bytecode cache (Jinja's
    own BytecodeCache interface; entries are checked against the template's source). The server compiles
    nbgrader's feedback templates once in warm_up(); every forked worker then renders without compiling."""
    import jinja2
    from nbconvert.exporters import templateexporter

    class MemoryBytecodeCache(jinja2.BytecodeCache):
        def __init__(self):
            self.store = {}

        def load_bytecode(self, bucket):
            if bucket.key in self.store:
                bucket.bytecode_from_string(self.store[bucket.key])

        def dump_bytecode(self, bucket):
            self.store[bucket.key] = bucket.bytecode_to_string()

    cache = MemoryBytecodeCache()
    create = templateexporter.TemplateExporter._create_environment

    def create_with_cache(self):
        environment = create(self)
        environment.bytecode_cache = cache
        return environment

    templateexporter.TemplateExporter._create_environment = create_with_cache


def warm_up() -> None:
    """Fill once the caches that every job would fill again: the jsonschema validator of nbformat, pygments'
    compiled lexers, the regular expressions and lazy imports of nbconvert's HTML export with nbgrader's
    feedback template. Only the instructor's own example notebook goes through it."""
    import nbformat
    from nbconvert import HTMLExporter
    from nbgrader.converters import generate_feedback

    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# A *title*\n\nSome `code`, a [link](#x), $x^2$ and a list:\n\n- one\n- two"),
        nbformat.v4.new_code_cell("import math\nprint(f'{math.pi:.2f}')  # a comment\nx = [1, 2.5, 'three', None]",
                                  outputs=[nbformat.v4.new_output("stream", text="3.14\n"),
                                           nbformat.v4.new_output("error", ename="AssertionError", evalue="no",
                                                                  traceback=["\x1b[0;31mAssertionError\x1b[0m: no"])])])
    nbformat.validate(nbformat.reads(nbformat.writes(notebook), as_version=4))
    import nbgrader.api  # noqa: F401  (its ORM classes)
    from sqlalchemy.orm import configure_mappers

    configure_mappers()
    formgrader = os.path.join(os.path.dirname(generate_feedback.__file__), "..", "server_extensions", "formgrader")
    css = os.path.join(formgrader, "static", "node_modules", "bootstrap", "dist", "css")
    HTMLExporter(template_name="feedback", extra_template_basedirs=[os.path.abspath(os.path.join(formgrader, "templates"))],
                 extra_template_paths=[os.path.abspath(css)]).from_notebook_node(  # as GenerateFeedback does
        notebook, {"nbgrader": {"notebook": "warm-up", "score": 1.0, "max_score": 2.0, "late_penalty": 0.0}})


def serve(socket_path: str, ready_fd: int) -> int:
    import ctypes
    import importlib

    from autograder.isolation.warm_kernels import listen

    ctypes.CDLL(None).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG: gone with the grader
    for name in WARM_MODULES:
        importlib.import_module(name)
    try:
        share_compiled_templates()
        warm_up()
    except Exception as error:  # only speed is lost
        print(f"warm_jobs: warm-up failed: {type(error).__name__}: {error}", file=sys.stderr, flush=True)
    listener = listen(socket_path, ready_fd, _reap)
    while True:
        connection, _ = listener.accept()
        with connection:
            try:
                request = json.loads(connection.makefile("rb").readline())
            except (OSError, ValueError):
                continue
            pid = os.fork()
            if pid == 0:
                listener.close()
                _work(connection, request)
            try:
                connection.sendall(f"{pid}\n".encode())
            except OSError:
                pass


def start_server(folder: str):
    """Start the worker server (socket in `folder`); returns a warm_kernels.Server. Raises RuntimeError."""
    from autograder.course import ROOT
    from autograder.isolation.warm_kernels import launch

    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return launch("warm-jobs", folder, [sys.executable, "-m", "autograder.isolation.warm_jobs"], env)


if __name__ == "__main__":
    sys.exit(serve(sys.argv[1], int(sys.argv[2])))
