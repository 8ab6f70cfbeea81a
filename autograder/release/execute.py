"""Executing notebooks with nbclient, in the notebook's own folder."""

import tempfile
from pathlib import Path

import nbformat
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

DEFAULT_TIMEOUT = 180  # seconds per cell, as in nbgrader_config.py


def execute_notebook(notebook, folder: Path, timeout: int = DEFAULT_TIMEOUT, allow_errors: bool = False):
    """Run every cell of `notebook` (in place) with the python3 kernel in `folder`; returns the notebook.
    The kernel talks over unix sockets in a private temporary folder (not over TCP on loopback)."""
    with tempfile.TemporaryDirectory(prefix="qkv-kernel-") as sockets:
        manager = KernelManager(kernel_name="python3", transport="ipc", ip=str(Path(sockets) / "kernel"))
        client = NotebookClient(
            notebook,
            km=manager,
            timeout=timeout,
            kernel_name="python3",
            allow_errors=allow_errors,
            resources={"metadata": {"path": str(folder)}},
        )
        client.execute()
    return notebook


def refresh_outputs(path: Path) -> None:
    """Execute a notebook file top to bottom and store its outputs in it."""
    notebook = nbformat.read(path, as_version=4)
    execute_notebook(notebook, path.parent)
    nbformat.write(notebook, path)
