"""The instructor's server: the Formgrader is an iframe in JupyterLab.

JupyterHub >= 4.1 forbids framing a user's server (`frame-ancestors 'none'`), which leaves the Formgrader
blank. nbgrader's docs ("Formgrader with jupyterhub>=4.1") give this header; only the instructor's server
sends it. With `JupyterHub.enable_subdomains` (a wildcard DNS name and certificate) it is safe for everyone.
"""

c = get_config()  # noqa: F821
c.ServerApp.tornado_settings = {"headers": {"Content-Security-Policy": "frame-ancestors 'self'"}}
c.LabApp.news_url = None
c.LabApp.check_for_updates_class = "jupyterlab.NeverCheckForUpdate"
# Terminals: a plain (not login) bash keeps the class environment first on PATH (python, nbgrader).
c.ServerApp.terminado_settings = {"shell_command": ["/bin/bash"]}
