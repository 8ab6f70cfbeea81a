"""Grading a class on an existing Dask distributed cluster (`python -m autograder grade ... --cluster ADDRESS`).

Only this module imports `distributed`, and only the class command with `--cluster` imports this module.

- `GraderPlugin` (a Dask WorkerPlugin, registered by the client): on each worker, `setup` starts one
  Grader (the template with the hidden tests, the sandbox probe, the warm servers) in a thread of its own
  that lives until `teardown` closes it (the warm servers die with the thread that started them). A worker
  that cannot sandbox student code keeps the reason instead of a Grader, unless the run said --no-sandbox.
  The plugin's name says its settings and the course version: a run with the same ones (`--resume` after
  a killed client) finds the graders already started; a finished run removes them. One run per cluster at
  a time: a run that finishes removes the graders another run with the same settings is using.
- `grade_on_worker` (the task): the notebook's bytes in, `grade_notebook(...)` with the worker's Grader,
  `GradeResult.to_dict()` out. It is pure: its temp folders are its own, its key names the task and its
  content, so Dask may run it again on another worker when one dies mid-task.
- `execute` (the client): checks every worker (can it grade, with the sandbox, the same course version?),
  submits the tasks a bounded number at a time (the notebooks' bytes travel with the tasks: no shared
  filesystem), and hands each result over as it arrives. A notebook whose task killed every worker it ran on
  (Dask's `distributed.scheduler.allowed-failures`, KilledWorker) becomes an `error` row with the reason.
"""

import asyncio
import concurrent.futures
import logging
import threading

from distributed import Client, WorkerPlugin, as_completed, get_worker
from distributed.scheduler import KilledWorker

from autograder.grading.batch import ClusterError
from autograder.grading.core import Grader, SandboxUnavailable, grade_notebook
from autograder.grading.journal import current_grader_version, grader_version
from autograder.grading.result import GradeResult, Status
from autograder.isolation.limits import Limits

PLUGIN = "qkv-grader"  # the start of the plugins' names
log = logging.getLogger(__name__)


class GraderPlugin(WorkerPlugin):
    """One Grader per Dask worker, started in `setup`, closed in `teardown`."""

    idempotent = True  # registered again under the same name (same settings): the running graders stay

    def __init__(self, stages: list[str], sandbox: bool = True, warm: bool = True):
        self.stages, self.sandbox, self.warm = list(stages), sandbox, warm
        self.grader: Grader | None = None
        self.failure = self.version = self.address = ""
        self._thread = self._stop = self._started = None

    def __getstate__(self):  # what travels to the workers: the settings, never a running Grader
        return {"stages": self.stages, "sandbox": self.sandbox, "warm": self.warm}

    def __setstate__(self, state):
        self.__init__(**state)

    @property
    def name(self) -> str:
        """The plugin's name: its settings and the client's course version."""
        import hashlib

        settings = f"{','.join(self.stages)}|sandbox={self.sandbox}|warm={self.warm}|{grader_version()}"
        return f"{PLUGIN}-{hashlib.sha256(settings.encode()).hexdigest()[:12]}"

    async def setup(self, worker) -> None:
        """Start the Grader in its own thread and return at once: a worker that joins (or is restarted by its
        nanny) registers without waiting seconds for it; `ready()` waits."""
        self.address = worker.address
        self._started = concurrent.futures.Future()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._own_grader, name="qkv-grader", daemon=True)
        self._thread.start()

    def _own_grader(self) -> None:
        """The thread that starts the Grader, keeps it (and its servers) alive, and closes it."""
        try:
            self.version = current_grader_version()  # this worker's files, read now
            grader = Grader(self.stages, sandbox=self.sandbox, require_sandbox=self.sandbox, warm=self.warm)
            grader.start()
        except SandboxUnavailable as error:
            self._fail(f"it cannot sandbox student code: {error} (grade without the sandbox with --no-sandbox)")
            return
        except BaseException as error:  # noqa: BLE001 - reported to the client and to every task
            self._fail(f"its grader could not start: {type(error).__name__}: {error}")
            return
        self.grader = grader
        self._started.set_result(grader)
        self._stop.wait()
        grader.close()

    def _fail(self, reason: str) -> None:
        self.failure = reason
        log.error("worker %s cannot grade: %s", self.address, reason)
        self._started.set_result(None)

    def ready(self, timeout: float | None = None) -> Grader:
        """The started Grader (waits for it); ClusterError with the reason when this worker cannot grade."""
        if self._started.result(timeout) is None:
            raise ClusterError(f"worker {self.address} cannot grade: {self.failure}")
        return self.grader

    async def wait_ready(self) -> None:
        await asyncio.wrap_future(self._started)

    async def teardown(self, worker) -> None:
        if self._stop is not None:
            self._stop.set()
            await asyncio.to_thread(self._thread.join, 300)
        self.grader = None


async def worker_status(name: str, dask_worker=None) -> dict:
    """What a worker says about its grader `name` to the client (through `Client.run`), once it started."""
    plugin = dask_worker.plugins.get(name)
    if plugin is None:
        return {"ok": False, "failure": "the grader plugin is not set up", "version": "", "slots": 0}
    await plugin.wait_ready()
    grader = plugin.grader
    return {
        "ok": grader is not None,
        "failure": plugin.failure,
        "sandbox_line": grader.sandbox_line if grader else "",
        "warm_line": grader.warm_line if grader else "",
        "version": plugin.version,
        "slots": dask_worker.state.nthreads,
    }


def grade_on_worker(plugin_name: str, data: bytes | None, stage: str, limits: dict, notes: list[str]) -> dict:
    """The task: grade one notebook with this worker's Grader (waiting for it to start); a plain dict out."""
    worker = get_worker()
    plugin = worker.plugins.get(plugin_name)
    if plugin is None:
        raise ClusterError(f"worker {worker.address} cannot grade: the grader plugin is not set up")
    grader = plugin.ready()
    result = grade_notebook(data, stage, Limits.from_dict(limits), grader=grader, notes=tuple(notes))
    return result.to_dict()


def connect(address: str, timeout: float = 20) -> Client:
    """A client of the scheduler at `address` (tcp://HOST:PORT, tls://...), or of the Dask Gateway cluster
    named in `gateway:NAME` (dask-gateway's own configuration says where the gateway is and how to log in)."""
    try:
        if address.startswith("gateway:"):
            try:
                from dask_gateway import Gateway
            except ImportError as error:
                raise ClusterError(
                    "--cluster gateway:NAME needs the dask-gateway package (pip install dask-gateway)"
                ) from error
            return Gateway().connect(address.removeprefix("gateway:")).get_client(set_as_default=False)
        return Client(address, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as error:
        raise ClusterError(f"cannot reach the Dask scheduler at {address}: {error}") from error


def start_graders(
    client: Client, stages: list[str], sandbox: bool, warm: bool, wait: float = 120
) -> tuple[str, list[str]]:
    """Register the plugin (each worker starts its Grader) and check every worker; returns the plugin's name
    and lines for the terminal and the summary. Raises ClusterError when no worker is there or one cannot
    grade."""
    try:
        client.wait_for_workers(1, timeout=wait)
    except TimeoutError as error:
        raise ClusterError(
            f"no Dask worker joined the scheduler at {client.scheduler.address} within {wait:.0f} s"
        ) from error
    plugin = GraderPlugin(stages, sandbox, warm)
    try:
        client.register_plugin(plugin, name=plugin.name)
    except Exception as error:  # noqa: BLE001 - setup reports failures itself; this is the transport failing
        raise ClusterError(f"the workers could not start their graders: {error}") from error
    statuses = client.run(worker_status, plugin.name)
    ours = grader_version()
    problems = []
    for address, status in sorted(statuses.items()):
        if not status["ok"]:
            problems.append(f"worker {address} refuses to grade: {status['failure']}")
        elif status["version"] != ours:
            problems.append(
                f"worker {address} has another version of the grader or the hidden tests "
                f"({status['version']}, here {ours}): run the workers from the same checkout"
            )
    if problems:
        stop_graders(client, plugin.name)
        raise ClusterError("; ".join(problems))
    slots = sum(s["slots"] for s in statuses.values())
    lines = sorted({s["sandbox_line"] for s in statuses.values()}) + sorted({s["warm_line"] for s in statuses.values()})
    return plugin.name, [
        f"Cluster: {client.scheduler.address}, {len(statuses)} worker(s) with {slots} grading slot(s) "
        f"(each Dask worker thread grades one notebook at a time); every worker says:",
        *lines,
    ]


def stop_graders(client: Client, name: str) -> None:
    """Close the workers' graders and their warm servers (they hold memory the cluster may need)."""
    try:
        client.unregister_worker_plugin(name)
    except Exception as error:  # noqa: BLE001 - a lost scheduler: the workers close them when they stop
        log.warning("could not stop the workers' graders: %s", error)


def slots(client: Client) -> int:
    return max(1, sum(client.nthreads().values()))


def execute(client: Client, plugin_name: str, tasks: list, limits: Limits, on_result, max_score) -> None:
    """Grade `tasks` (objects with student_id, stage, notes, key, read()) on the cluster; calls
    on_result(task, GradeResult) in this thread as each arrives. Keeps about two tasks per grading slot
    in flight, so the client and the scheduler hold a few notebooks' bytes, not the class's.
    max_score(stage) gives the maximum of a stage (for the `error` rows)."""
    pending = list(reversed(tasks))  # pop() takes them in the order given
    running = {}
    window = as_completed(loop=client.loop)
    window_size, submitted = 2 * slots(client) + 2, 0

    def submit_more():
        nonlocal window_size, submitted
        while pending and len(running) < window_size:
            task = pending.pop()
            data, notes = task.data()
            future = client.submit(
                grade_on_worker, plugin_name, data, task.stage, limits.to_dict(), list(notes), key=task.key, pure=False
            )
            running[future.key] = (task, future)
            window.add(future)
            submitted += 1
            if submitted % 50 == 0:  # workers come and go: keep the window at twice the slots
                window_size = 2 * slots(client) + 2

    submit_more()
    try:
        for future in window:
            task, _ = running.pop(future.key)
            result = _result_of(future, task, max_score)
            future.release()
            on_result(task, result)
            submit_more()
    except BaseException:
        client.cancel([f for _, f in running.values()], force=True)
        raise


def _result_of(future, task, max_score) -> GradeResult:
    try:
        return GradeResult.from_dict(future.result())
    except KilledWorker as error:
        return GradeResult(
            task.stage,
            Status.ERROR,
            0.0,
            max_score(task.stage),
            notes=[
                *task.notes,
                "grading this notebook killed every worker it ran on; Dask gave up "
                "after the cluster's allowed number of tries (distributed.scheduler."
                f"allowed-failures): {str(error).splitlines()[0][:300]}",
            ],
        )
    except ClusterError:
        raise
    except Exception as error:  # noqa: BLE001 - the task itself failed (grade_notebook does not raise)
        if future.status == "cancelled":
            raise ClusterError(
                f"the scheduler cancelled the grading ({error or 'connection lost'}); "
                "what was graded is kept: run again with --resume"
            ) from error
        return GradeResult(
            task.stage,
            Status.ERROR,
            0.0,
            max_score(task.stage),
            notes=[*task.notes, f"grader error on the cluster: {type(error).__name__}: {error}"],
        )
