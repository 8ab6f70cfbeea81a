"""Support for the browser tests: a copy of the course, a JupyterLab server over it, and headless Chromium.

The browser is the system's Chromium (Debian package `chromium`), driven by Playwright through
`executable_path`; Playwright never downloads a browser here. The server is the course's own JupyterLab
(the venv's `jupyter-lab`) on a free loopback port with a random token, with its settings, workspaces and
runtime files in a temporary folder so that neither the user's JupyterLab state nor the tests leak.
"""

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import nbformat
import psutil

from autograder.course import ROOT
from autograder.release.generate import grade_id, read_notebook, without_solution_markers

# What a copy of the course holds: everything JupyterLab and nbgrader need, nothing of the developer's state.
COURSE_PARTS = ("notebooks", "solutions", "Grafiken", "autograder", "nbgrader_config.py")

# Offline-friendly flags: no background requests (the CI machine has no internet), no GPU, no sandbox (root).
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# JupyterLab user settings for the test server: never ask about or fetch news (no toast in the screenshots).
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false", "checkForUpdates": False},
}


def chromium_path() -> str | None:
    """The Chromium executable: $CHROMIUM if set, else `chromium` on PATH (Debian: /usr/bin/chromium)."""
    configured = os.environ.get("CHROMIUM")
    if configured:
        return configured if os.access(configured, os.X_OK) else None
    return shutil.which("chromium")


def missing_browser_reason() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    if chromium_path() is None:
        if os.environ.get("CHROMIUM"):
            return f"CHROMIUM={os.environ['CHROMIUM']} is not an executable file"
        return (
            "Chromium not found (install it: `sudo apt-get install chromium` on Debian, or set $CHROMIUM to a "
            "Chromium/Chrome executable); the browser tests need a system Chromium, Playwright downloads none here"
        )
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the Python package `playwright` is not installed (run `make test` to install requirements.txt)"
    return None


def copy_course(destination: Path) -> Path:
    """Copy the parts of the repository a student or instructor works with into `destination`."""
    destination.mkdir(parents=True, exist_ok=True)
    ignore = shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints", "gradebook.db")
    for part in COURSE_PARTS:
        source = ROOT / part
        if source.is_dir():
            shutil.copytree(source, destination / part, ignore=ignore)
        else:
            shutil.copy2(source, destination / part)
    return destination


def reference_answers(solution_path: Path) -> dict[str, str]:
    """The reference answer of every solution cell of an instructor notebook, keyed by grade_id."""
    notebook = read_notebook(solution_path)
    return {
        grade_id(cell): without_solution_markers(cell.source).strip("\n")
        for cell in notebook.cells
        if cell.get("metadata", {}).get("nbgrader", {}).get("solution")
    }


def solved_notebook(student_path: Path, answers: dict[str, str]) -> nbformat.NotebookNode:
    """A student notebook with the given answers (grade_id -> source) written into its solution cells."""
    notebook = read_notebook(student_path)
    for cell in notebook.cells:
        if grade_id(cell) in answers:
            cell.source = answers[grade_id(cell)]
    return notebook


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class LabServer:
    """`jupyter lab` over `root` on a free loopback port, with a token; use as a context manager.

    It runs in `root`: nbgrader's Validate button and formgrader read nbgrader_config.py from the server's
    working folder. Stopping it shuts it down through its API and then ends any process of it that is left.
    """

    def __init__(self, root: Path, state: Path, start_timeout: float = 240):
        self.root = Path(root).resolve()
        self.state = Path(state).resolve()
        self.start_timeout = start_timeout
        self.port = free_port()
        self.token = secrets.token_hex(16)
        self.log_path = self.state / "jupyter-lab.log"
        self.process: subprocess.Popen | None = None

    def url(self, path: str = "lab") -> str:
        """The address of `path` on the server, with the token."""
        separator = "&" if "?" in path else "?"
        return f"http://127.0.0.1:{self.port}/{path.lstrip('/')}{separator}token={self.token}"

    def _environment(self) -> dict:
        env = dict(os.environ)
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
        folders = {
            "JUPYTERLAB_SETTINGS_DIR": "lab-settings",
            "JUPYTERLAB_WORKSPACES_DIR": "lab-workspaces",
            "JUPYTER_RUNTIME_DIR": "runtime",
            "JUPYTER_CONFIG_DIR": "config",
            "IPYTHONDIR": "ipython",
        }
        for name, folder in folders.items():
            env[name] = str(self.state / folder)
            (self.state / folder).mkdir(parents=True, exist_ok=True)
        for name, settings in LAB_SETTINGS.items():
            path = self.state / "lab-settings" / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(settings), encoding="utf-8")
        env.pop("JUPYTER_TOKEN", None)
        return env

    def start(self) -> "LabServer":
        self.state.mkdir(parents=True, exist_ok=True)
        command = [
            str(Path(sys.executable).parent / "jupyter-lab"),
            "--no-browser",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.root}",
            "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            command.append("--allow-root")  # CI containers run as root
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                command,
                cwd=self.root,
                env=self._environment(),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._wait_until_ready()
        return self

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"jupyter lab exited with code {self.process.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(self.url("api/status"), timeout=10) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"jupyter lab did not answer within {self.start_timeout:.0f} s:\n{self.log_tail()}")

    def shutdown_kernels(self) -> None:
        """Shut down every kernel the browser started (a closed tab leaves its kernel running)."""
        with urllib.request.urlopen(self.url("api/sessions"), timeout=30) as response:
            sessions = json.load(response)
        for session in sessions:
            request = urllib.request.Request(self.url(f"api/sessions/{session['id']}"), method="DELETE")
            urllib.request.urlopen(request, timeout=60).close()

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.is_file():
            return "(no log)"
        return "\n".join(self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])

    def stop(self, timeout: float = 60) -> None:
        """Ask the server to shut down (it stops its kernels), then end whatever of it and its children is left."""
        if self.process is None:
            return
        try:
            family = [psutil.Process(self.process.pid)]
            family += family[0].children(recursive=True)  # kernels run in sessions of their own
        except psutil.NoSuchProcess:
            family = []
        if self.process.poll() is None:
            request = urllib.request.Request(self.url("api/shutdown"), method="POST", data=b"")
            try:
                urllib.request.urlopen(request, timeout=10).close()
                self.process.wait(timeout=timeout)
            except (urllib.error.URLError, ConnectionError, TimeoutError, subprocess.TimeoutExpired):
                pass
        _end(family)
        self.process.wait(timeout=timeout)
        self.process = None

    def __enter__(self) -> "LabServer":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()


def _end(processes: list) -> None:
    """Terminate, then kill, the given psutil processes that are still running."""
    alive = [p for p in processes if p.is_running()]
    for process in alive:
        try:
            process.terminate()
        except psutil.NoSuchProcess:
            pass
    _, alive = psutil.wait_procs(alive, timeout=10)
    for process in alive:
        try:
            process.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(alive, timeout=10)
