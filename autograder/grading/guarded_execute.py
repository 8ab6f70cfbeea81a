"""nbgrader's Execute preprocessor with the grader's limits; it runs inside `nbgrader autograde`.

The grading workspace's nbgrader_config.py puts GuardedExecute in place of nbgrader's Execute. It differs in:

- Before the kernel starts, it deletes the notebook files from the kernel's folder: nbgrader writes the
  sanitised notebook there, and that copy holds the hidden tests.
- A wall clock for the whole notebook (`notebook_timeout`) on top of the per-cell `timeout` (through
  nbclient's public `timeout_func`).
- When a cell times out, or the kernel dies (segfault, os._exit, out of memory, killed), it stops: that cell
  and every later code cell get an error output that says why, so no test can pass by not running. The
  cell's metadata records the event (`autograder.event`: timeout, kernel_died, not_run).
- Output is capped while it arrives: `max_cell_output` characters of text per cell and
  `max_notebook_output` bytes in all; the rest is dropped with a note (`autograder.event`: output_truncated).
- For the grader's own check cells (metadata `autograder.role` = check) it records the kernel's execute
  reply in the metadata (`autograder.reply`), where code in the kernel cannot change it.
"""

import signal
from pathlib import Path
from time import monotonic

from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat import NotebookNode
from nbgrader.preprocessors import Execute
from traitlets import Integer

META = "autograder"


def _error(ename: str, message: str) -> NotebookNode:
    return NotebookNode(output_type="error", ename=ename, evalue=message, traceback=[f"{ename}: {message}"])


def _describe_exit(code: int | None) -> str:
    if code is None:
        return "it stopped responding"
    signal_number = -code if code < 0 else code - 128 if code > 128 else None
    if signal_number:
        try:
            name = signal.Signals(signal_number).name
        except ValueError:
            name = f"signal {signal_number}"
        hint = {
            "SIGSEGV": ": a crash (segmentation fault)",
            "SIGKILL": ": killed, often for using too much memory",
            "SIGXCPU": ": it used up its CPU time",
            "SIGABRT": ": aborted",
        }.get(name, "")
        return f"ended by {name}{hint}"
    return f"exit code {code}"


class GuardedExecute(Execute):
    notebook_timeout = Integer(900, help="seconds for all cells of a notebook together").tag(config=True)
    max_cell_output = Integer(100_000, help="characters of text output kept per cell").tag(config=True)
    max_notebook_output = Integer(20_000_000, help="bytes of output kept per notebook").tag(config=True)

    def preprocess(self, nb, resources=None, km=None):
        # Nothing in a graded kernel needs a polite goodbye: kill it as soon as the last cell has answered
        # (saves jupyter_client's 0.1 s shutdown poll and the kernel's own shutdown work on every notebook).
        self.shutdown_kernel = "immediate"
        self._deadline = monotonic() + self.notebook_timeout
        self.timeout_func = self.cell_time_limit
        self._stopped = None  # why the remaining cells do not run
        self._notebook_output = 0
        self._last_reply = None
        folder = Path((resources or {}).get("metadata", {}).get("path") or ".")
        for notebook_file in folder.glob("*.ipynb"):
            notebook_file.unlink()
        return super().preprocess(nb, resources, km)

    def cell_time_limit(self, cell) -> int:
        """nbclient's `timeout_func`: the cell's limit, or what is left of the notebook's, if less."""
        remaining = max(1, int(self._deadline - monotonic()))
        return min(self.timeout, remaining) if self.timeout else remaining

    def on_cell_executed(self, **kwargs):
        self._last_reply = kwargs.get("execute_reply")
        return super().on_cell_executed(**kwargs)

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code" or not cell.source.strip():
            return cell, resources
        record = cell.metadata.setdefault(META, {})
        record.pop("reply", None)
        if self._stopped is None and monotonic() >= self._deadline:
            self._stop(f"the notebook ran longer than {self.notebook_timeout} s in total")
        if self._stopped is not None:
            cell.outputs = [_error("NotRun", f"not run: {self._stopped}")]
            record["event"] = "not_run"
            return cell, resources
        self._cell_output = 0
        self._cell_truncated = False
        self._last_reply = None
        budget_is_notebook = self._deadline - monotonic() < self.timeout
        try:
            cell, resources = super().preprocess_cell(cell, resources, index)
        except DeadKernelError:
            how = _describe_exit(self._kernel_exit_code())
            cell.outputs.append(_error("KernelDied", f"the kernel died while running this cell ({how})"))
            record["event"] = "kernel_died"
            record["detail"] = how
            self._stop("the kernel died in an earlier cell")
            return cell, resources
        except CellTimeoutError:
            cell.outputs.append(_error("CellTimeoutError", "no reply from the kernel before the time limit"))
        if any(o.get("output_type") == "error" and o.get("ename") == "CellTimeoutError" for o in cell.outputs):
            limit = (
                f"the notebook's limit of {self.notebook_timeout} s"
                if budget_is_notebook
                else f"the limit of {self.timeout} s per cell"
            )
            cell.outputs = [o for o in cell.outputs if o.get("ename") != "CellTimeoutError"]
            cell.outputs.append(_error("Timeout", f"this cell ran longer than {limit}"))
            record["event"] = "timeout"
            record["detail"] = limit
            self._stop("an earlier cell ran out of time")
        elif self._cell_truncated:
            record["event"] = "output_truncated"
        if cell.metadata.get(META, {}).get("role") == "check" and self._last_reply is not None:
            content = self._last_reply.get("content", {})
            record["reply"] = {
                "status": content.get("status"),
                "ename": content.get("ename"),
                "evalue": content.get("evalue"),
            }
        return cell, resources

    def _stop(self, reason: str) -> None:
        self._stopped = reason
        self.shutdown_kernel = "immediate"  # a kernel stuck in a loop would not answer a polite shutdown

    def _kernel_exit_code(self) -> int | None:
        process = getattr(getattr(self.km, "provisioner", None), "process", None)
        if process is None:
            return None
        try:
            return process.wait(timeout=5)
        except Exception:
            return None

    def output(self, outs, msg, display_id, cell_index):
        """Keep an output only while the cell's and the notebook's output budgets last."""
        content = msg.get("content", {})
        if msg.get("msg_type") == "stream":
            size = len(content.get("text", ""))
            if self._cell_output + size > self.max_cell_output:
                return self._truncate(outs)
            self._cell_output += size
        else:
            size = sum(len(str(value)) for value in content.get("data", {}).values())
        if self._notebook_output + size > self.max_notebook_output:
            return self._truncate(outs)
        self._notebook_output += size
        return super().output(outs, msg, display_id, cell_index)

    def _truncate(self, outs):
        if not self._cell_truncated:
            self._cell_truncated = True
            note = NotebookNode(
                output_type="stream",
                name="stdout",
                text=f"\n[output truncated by the grader: more than {self.max_cell_output} "
                f"characters in this cell or {self.max_notebook_output} bytes in the notebook]\n",
            )
            outs.append(note)
        return None
