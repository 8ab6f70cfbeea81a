"""Set up a class of the course on this server and run its JupyterHub (root only).

  python hubclass.py demo [--port 8000]   the demo class: an instructor and three students with known
                                          passwords; prints the address and the logins; Ctrl-C stops it
  python hubclass.py setup --state DIR --instructor NAME --students A,B,C
                                          a real class (PAM passwords): accounts, course folder, exchange
  python hubclass.py run --state DIR      the hub of a class set up before

Run with the class environment's python (`make hub-install`). What `setup` makes:

  Unix accounts     one per person (useradd; an existing account is used as it is), home mode 0700
  course folder     ~instructor/<course_id>/: solutions/ (nbgrader's source, hidden tests), notebooks/
                    (the stages to release), autograder/, Grafiken/, nbgrader_config.py; owned by the
                    instructor, mode 0700
  exchange          STATE/exchange, mode 1777 (nbgrader: every user writes into it); nbgrader makes the
                    course's inbound/ write-only for students, so no one can list another's submission
  STATE/class.json  what jupyterhub_config.py reads
"""

import argparse
import json
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPOSITORY = HERE.parent.parent
HUB_CONFIG = HERE / "jupyterhub_config.py"
COURSE_ID = "qkv-attention"
COURSE_PARTS = ("notebooks", "solutions", "Grafiken", "autograder")
DEMO_INSTRUCTOR = "instructor"
DEMO_STUDENTS = ("ada", "bob", "cyd")

# The course folder's nbgrader configuration on the hub: the course's own settings, the class's exchange.
COURSE_CONFIG = '''"""nbgrader configuration of this course on the class hub (written by hubclass.py setup)."""
import os

c = get_config()  # noqa: F821
load_subconfig(  # noqa: F821
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "autograder", "nbgrader_config.py"))
c.CourseDirectory.course_id = {course_id!r}
c.Exchange.root = {exchange!r}
'''


class HubError(RuntimeError):
    """The class cannot be set up or started: a one-line reason."""


def require_root() -> None:
    if os.geteuid() != 0:
        raise HubError("the class hub starts servers as other Unix users: run it as root (sudo make hub)")


def run(*command: str) -> None:
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise HubError(f"{' '.join(command)} failed: {(result.stderr or result.stdout).strip()}")


def create_account(name: str) -> bool:
    """A Unix account with a private home folder; returns True when it was created now."""
    try:
        pwd.getpwnam(name)
        created = False
    except KeyError:
        run("useradd", "--create-home", "--user-group", "--shell", "/bin/bash", name)
        created = True
    home = Path(pwd.getpwnam(name).pw_dir)
    home.chmod(0o700)
    return created


def remove_account(name: str) -> None:
    """Remove an account and its home (the tests' accounts); its processes must have ended."""
    subprocess.run(["userdel", "--remove", name], capture_output=True)


def chown_tree(path: Path, user: str) -> None:
    entry = pwd.getpwnam(user)
    for folder, _folders, files in os.walk(path):
        os.chown(folder, entry.pw_uid, entry.pw_gid)
        for name in files:
            os.chown(os.path.join(folder, name), entry.pw_uid, entry.pw_gid, follow_symlinks=False)


def create_course(instructor: str, exchange: Path) -> Path:
    """~instructor/qkv-attention: the course's parts, with the hub's nbgrader_config.py (a folder that exists
    is kept: it holds the gradebook and every submission)."""
    root = Path(pwd.getpwnam(instructor).pw_dir) / COURSE_ID
    if root.exists():
        return root
    root.mkdir(mode=0o700)
    ignore = shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints", "gradebook.db", ".exchange")
    for part in COURSE_PARTS:
        shutil.copytree(REPOSITORY / part, root / part, ignore=ignore)
    (root / "nbgrader_config.py").write_text(
        COURSE_CONFIG.format(course_id=COURSE_ID, exchange=str(exchange)), encoding="utf-8"
    )
    chown_tree(root, instructor)
    return root


def setup_class(
    state: Path, instructor: str, students: list[str], port: int = 8000, passwords: dict[str, str] | None = None
) -> dict:
    """Accounts, course folder, exchange and STATE/class.json; `passwords` makes it a demo class."""
    require_root()
    state.mkdir(parents=True, exist_ok=True)
    state.chmod(0o755)  # the exchange inside must be reachable by every account
    exchange = state / "exchange"
    exchange.mkdir(exist_ok=True)
    exchange.chmod(0o1777)
    for name in [instructor, *students]:
        create_account(name)
    course_root = create_course(instructor, exchange)
    facts = {
        "course_id": COURSE_ID,
        "instructor": instructor,
        "students": list(students),
        "course_root": str(course_root),
        "exchange": str(exchange),
        "port": port,
        "hub_port": port + 1,
        "proxy_api_port": port + 2,
    }
    (state / "class.json").write_text(json.dumps(facts, indent=2) + "\n", encoding="utf-8")
    secret_file = state / "demo-passwords.json"
    if passwords is not None:
        secret_file.touch(mode=0o600)
        secret_file.write_text(json.dumps(passwords), encoding="utf-8")
    elif secret_file.exists():
        secret_file.unlink()
    return facts


class Hub:
    """The class's JupyterHub (and through it the proxy and every user's server) as a child process."""

    def __init__(self, state: Path, log_path: Path | None = None, bin_dir: Path | None = None):
        self.state = Path(state)
        self.bin_dir = Path(bin_dir or Path(sys.executable).parent)  # the class environment's bin/
        self.facts = json.loads((self.state / "class.json").read_text(encoding="utf-8"))
        self.log_path = log_path or self.state / "jupyterhub.log"
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.facts['port']}/"

    def start(self, timeout: float = 120) -> "Hub":
        jupyterhub = self.bin_dir / "jupyterhub"
        if not jupyterhub.exists():
            raise HubError(f"{jupyterhub} is missing: run `make hub-install` first")
        if not (HERE / "node_modules" / ".bin" / "configurable-http-proxy").exists():
            raise HubError("configurable-http-proxy is missing: run `make hub-install` first")
        env = dict(os.environ, QKV_HUB_STATE=str(self.state))
        with open(self.log_path, "ab") as log:  # a session of its own: Ctrl-C reaches it through stop()
            self.process = subprocess.Popen(
                [str(jupyterhub), "-f", str(HUB_CONFIG)],
                cwd=self.state,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise HubError(f"jupyterhub exited with code {self.process.returncode} (log: {self.log_path})")
            try:
                with urllib.request.urlopen(self.url + "hub/api/", timeout=5) as answer:
                    if answer.status == 200:
                        return self
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.5)
        self.stop()
        raise HubError(f"jupyterhub did not answer within {timeout:.0f} s (log: {self.log_path})")

    def stop(self, timeout: float = 60) -> None:
        """SIGINT, as Ctrl-C: JupyterHub stops every user's server and the proxy, then exits."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> "Hub":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()


def demo(state: Path, port: int) -> int:
    passwords = {name: secrets.token_urlsafe(6) for name in (DEMO_INSTRUCTOR, *DEMO_STUDENTS)}
    facts = setup_class(state, DEMO_INSTRUCTOR, list(DEMO_STUDENTS), port, passwords)
    hub = Hub(state)
    print(f"Starting the demo class hub (log: {hub.log_path}) ...", flush=True)
    try:
        hub.start()
    except KeyboardInterrupt:
        hub.stop()
        return 130
    width = max(map(len, passwords))
    logins = "\n".join(
        f"  {name:<{width}}  password {password}   "
        f"({'instructor: Nbgrader > Formgrader' if name == DEMO_INSTRUCTOR else 'student: Nbgrader > Assignments'})"
        for name, password in passwords.items()
    )
    print(
        f"""
The class hub runs at {hub.url}  (this machine only; from elsewhere: ssh -L {port}:127.0.0.1:{port} ...)
Logins (new passwords each start):
{logins}
Course folder: {facts["course_root"]}   exchange: {facts["exchange"]}
The instructor releases a stage in the Formgrader (Generate, then Release); students fetch it in the
Assignments tab. Press Ctrl-C to stop the hub and every server.""",
        flush=True,
    )
    try:
        code = hub.process.wait()
        print(f"The hub exited with code {code}; its log: {hub.log_path}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nStopping the hub, the proxy and every user's server ...", flush=True)
        hub.stop()
        print("The class hub stopped.")
        return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    demo_parser = commands.add_parser("demo", help="set up and run the demo class")
    demo_parser.add_argument("--state", type=Path, default=Path("/srv/qkv-class-demo"))
    demo_parser.add_argument("--port", type=int, default=8000)
    setup_parser = commands.add_parser("setup", help="set up a real class (PAM logins)")
    setup_parser.add_argument("--state", type=Path, default=Path("/srv/qkv-class"))
    setup_parser.add_argument("--instructor", required=True)
    setup_parser.add_argument("--students", required=True, help="comma-separated Unix account names")
    setup_parser.add_argument("--port", type=int, default=8000)
    run_parser = commands.add_parser("run", help="run the hub of a class set up before")
    run_parser.add_argument("--state", type=Path, default=Path("/srv/qkv-class"))
    args = parser.parse_args(argv)
    try:
        require_root()
        if args.command == "demo":
            return demo(args.state, args.port)
        if args.command == "setup":
            students = [name.strip() for name in args.students.split(",") if name.strip()]
            facts = setup_class(args.state, args.instructor, students, args.port)
            print(f"Class set up in {args.state}: course {facts['course_root']}, exchange {facts['exchange']}.")
            return 0
        os.chdir(args.state)  # in the foreground, as systemd runs it: Ctrl-C or SIGTERM stop it
        os.environ["QKV_HUB_STATE"] = str(args.state.resolve())
        jupyterhub = str(Path(sys.executable).parent / "jupyterhub")
        os.execv(jupyterhub, [jupyterhub, "-f", str(HUB_CONFIG)])
    except HubError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
