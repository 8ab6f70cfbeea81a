"""Executing notebooks with nbclient, in the notebook's own folder."""
from pathlib import Path

import nbformat
from nbclient import NotebookClient

DEFAULT_TIMEOUT = 180  # seconds per cell, as in nbgrader_config.py


def execute_notebook(notebook, folder: Path, timeout: int = DEFAULT_TIMEOUT, allow_errors: bool = False):
    """Run every cell of `notebook` (in place) with the python3 kernel in `folder`; returns the notebook."""
    client = NotebookClient(notebook, timeout=timeout, kernel_name="python3", allow_errors=allow_errors,
                            resources={"metadata": {"path": str(folder)}})
    client.execute()
    return notebook


def refresh_outputs(path: Path) -> None:
    """Execute a notebook file top to bottom and store its outputs in it."""
    notebook = nbformat.read(path, as_version=4)
    execute_notebook(notebook, path.parent)
    nbformat.write(notebook, path)
