"""JupyterHub configuration of a class of the QKV attention course on one server.

Run by root (`make hub` for the demo; `jupyterhub -f deploy/jupyterhub/jupyterhub_config.py` on a real
server) with the class environment's jupyterhub (`make hub-install`). What the class is comes from
$QKV_HUB_STATE/class.json (written by `hubclass.py setup`):

  course_id, instructor, students   the Unix accounts that may log in (nbgrader's student ids are these names)
  course_root                       the instructor's nbgrader course folder (the Formgrader's course)
  exchange                          nbgrader's exchange, a folder every account can write into (mode 1777)
  port, hub_port, proxy_api_port    all bound to 127.0.0.1: a TLS proxy (nginx, Caddy) goes in front
  grading_service                   true (default): the hub runs the grading service as the instructor

Everyone logs in with their Unix password (PAM). The demo and the tests instead keep known passwords in
$QKV_HUB_STATE/demo-passwords.json (root only); when that file exists, only those passwords work.

Every user's server is `jupyterhub-singleuser` (JupyterLab) started as that Unix user by the
LocalProcessSpawner, with the configuration of their role on JUPYTER_CONFIG_PATH (installed next to the
environment by `make hub-install`, from deploy/jupyterhub/roles/):
  student     nbgrader's Assignments tab and Validate; no Formgrader, no Create Assignment
  instructor  the Formgrader on the course folder, which needs the Content-Security-Policy
              `frame-ancestors 'self'` (nbgrader's docs for JupyterHub >= 4.1, "trusting users"): only the
              instructor's server sends it, students' servers keep JupyterHub's stricter default.
"""

import hmac
import json
import os
import sys
from pathlib import Path

from jupyterhub.auth import Authenticator
from traitlets import Dict, Unicode

c = get_config()  # noqa: F821  (given by JupyterHub's config loader)

HERE = Path(__file__).resolve().parent
STATE = Path(os.environ.get("QKV_HUB_STATE", "/srv/qkv-class"))
CLASS = json.loads((STATE / "class.json").read_text(encoding="utf-8"))
ENVIRONMENT = Path(sys.prefix)  # the class environment this hub runs from, readable by all
ROLES = ENVIRONMENT / "etc" / "qkv-class"  # roles/student, roles/instructor, copied by make hub-install
DEMO_PASSWORDS = STATE / "demo-passwords.json"


class DemoAuthenticator(Authenticator):
    """Known passwords of the demo and test accounts (a JSON file {user: password}); never on a real class."""

    password_file = Unicode(help="JSON file mapping each user name to its password").tag(config=True)
    passwords = Dict()

    async def authenticate(self, handler, data):
        if not self.passwords:
            self.passwords = json.loads(Path(self.password_file).read_text(encoding="utf-8"))
        expected = self.passwords.get(data.get("username", ""))
        if expected is not None and hmac.compare_digest(expected, data.get("password", "")):
            return data["username"]
        return None


# -- network: loopback only -------------------------------------------------------------------------------
c.JupyterHub.bind_url = f"http://127.0.0.1:{CLASS['port']}/"
c.JupyterHub.hub_bind_url = f"http://127.0.0.1:{CLASS['hub_port']}"
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{CLASS['proxy_api_port']}"
c.ConfigurableHTTPProxy.command = [str(HERE / "node_modules" / ".bin" / "configurable-http-proxy")]
c.ConfigurableHTTPProxy.pid_file = str(STATE / "proxy.pid")
c.Spawner.ip = "127.0.0.1"

# -- the hub's own state ----------------------------------------------------------------------------------
c.JupyterHub.db_url = f"sqlite:///{STATE / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(STATE / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(STATE / "jupyterhub.pid")
c.JupyterHub.cleanup_servers = True  # Ctrl-C stops every user's server too
c.JupyterHub.cleanup_proxy = True

# -- who may log in ---------------------------------------------------------------------------------------
c.Authenticator.allowed_users = {CLASS["instructor"], *CLASS["students"]}
if DEMO_PASSWORDS.exists():
    c.JupyterHub.authenticator_class = DemoAuthenticator
    c.DemoAuthenticator.password_file = str(DEMO_PASSWORDS)
else:
    c.JupyterHub.authenticator_class = "pam"
    c.PAMAuthenticator.open_sessions = False  # no systemd-logind session per server

# -- each user's JupyterLab -------------------------------------------------------------------------------
c.Spawner.cmd = [str(ENVIRONMENT / "bin" / "jupyterhub-singleuser")]
c.Spawner.default_url = "/lab"
c.Spawner.notebook_dir = "~"
c.Spawner.start_timeout = 180  # a busy server: JupyterLab and nbgrader take a while to import
c.Spawner.http_timeout = 180


def role(username: str) -> str:
    return "instructor" if username == CLASS["instructor"] else "student"


def configure_role(spawner) -> None:
    """The role's Jupyter configuration and the class's facts, in the environment of the user's server."""
    spawner.environment = dict(
        spawner.environment,
        JUPYTER_CONFIG_PATH=str(ROLES / role(spawner.user.name)),
        PATH=os.pathsep.join([str(ENVIRONMENT / "bin"), "/usr/local/bin", "/usr/bin", "/bin"]),  # alembic, python
        QKV_COURSE_ID=CLASS["course_id"],
        QKV_EXCHANGE=CLASS["exchange"],
        QKV_COURSE_ROOT=CLASS["course_root"] if role(spawner.user.name) == "instructor" else "",
        OMP_NUM_THREADS="1",  # torch: one thread per kernel on a shared server
    )


c.Spawner.pre_spawn_hook = configure_role

# -- the grading service: feedback seconds after Submit (autograder/service/, README) ---------------------
# JupyterHub starts it with the hub, as the instructor (the gradebook stays theirs, Formgrader writes it
# too), from the instructor's course folder and its copy of the autograder package; it restarts it if it
# dies. class.json "grading_service": false leaves it off (the instructor then grades by hand).
if CLASS.get("grading_service", True):
    sys.path.insert(0, str(HERE.parent.parent))  # this repository (root's own copy): the entry is built here
    from autograder.service.hub import grading_service  # noqa: E402

    c.JupyterHub.services = [
        grading_service(
            CLASS["course_root"],
            CLASS["exchange"],
            user=CLASS["instructor"],
            course_id=CLASS["course_id"],
            python=str(ENVIRONMENT / "bin" / "python"),
            package_root=CLASS["course_root"],
        )
    ]
