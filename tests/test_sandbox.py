"""The grading sandbox (autograder/isolation/sandbox.py): every test runs real kernels inside it.

The kernels run as nbgrader runs them: nbconvert's ExecutePreprocessor configured by the command-line
arguments and environment from `kernel_setup` (and one test through `nbgrader autograde` itself).
Without a usable sandbox (no bubblewrap, no namespaces) the tests skip with the reason; with CI=true they fail.
"""

import importlib.util
import json
import os
import shutil
import site
import socket
import tempfile
import time
import uuid
from pathlib import Path
from unittest import mock

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient.exceptions import DeadKernelError
from nbconvert.preprocessors import ExecutePreprocessor
from traitlets.config.loader import KVArgParseConfigLoader

from autograder.course import ROOT, solution_notebook
from autograder.isolation import sandbox, warm_kernels
from autograder.isolation.limits import KERNEL_ENV, Limits
from tests.plain_nbgrader import PlainCourse

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ready():
    ok, reason = sandbox.probe()
    if not ok:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true, so the sandbox tests must run, but: {reason}", pytrace=False)
        pytest.skip(reason)


@pytest.fixture(scope="module")
def warm_server(ready):
    """A warm-kernel server (autograder/isolation/warm_kernels.py) for the tests of the `warm` kind."""
    folder = tempfile.mkdtemp(prefix="wk-test-")
    with warm_kernels.start_server(folder, KERNEL_ENV) as server:
        yield server
    shutil.rmtree(folder, ignore_errors=True)


WARM_SOCKET = None  # set by `scratch`: the warm-kernel server that run() uses, or None for cold kernels
STARTS_TOGETHER = False  # run() from several threads at once: find the kernelspec without os.environ


@pytest.fixture(params=["cold", "warm"])
def scratch(ready, request):
    """A short-named scratch folder (unix socket paths are limited to about 100 characters). Every test that
    starts kernels runs twice: with kernels started fresh in the sandbox, and forked into it by the
    warm-kernel server; the sandbox must hold the same in both."""
    global WARM_SOCKET
    WARM_SOCKET = request.getfixturevalue("warm_server").socket_path if request.param == "warm" else None
    folder = Path(tempfile.mkdtemp(prefix="sbx-test-"))
    yield folder
    WARM_SOCKET = None
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def folder(tmp_path):
    """The student's notebook folder on the host, with one data file."""
    path = tmp_path / "autograded" / "alice" / "01_stage"
    path.mkdir(parents=True)
    (path / "data.txt").write_text("alice's data\n")
    return path


def run(scratch: Path, folder: Path, cells: list[str], limits=Limits(), timeout=60, **options) -> list[str]:
    """Execute `cells` in one sandboxed kernel started in `folder`; returns each cell's text output
    (stdout, stderr, and 'ErrorName: value' for an exception)."""
    args, env = sandbox.kernel_setup(scratch, limits, WARM_SOCKET)
    config = KVArgParseConfigLoader(args).load_config()
    # The first cell tells a warm kernel (torch imported before any cell ran) from a cold one.
    probe = "import sys\nprint('torch' in sys.modules, end='')"
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code) for code in [probe, *cells]])
    if STARTS_TOGETHER:  # kernels started from two threads at once: no change to os.environ
        specs = KernelSpecManager(
            kernel_dirs=[os.path.join(p, "kernels") for p in env["JUPYTER_PATH"].split(os.pathsep)]
        )
        manager = KernelManager(config=config, kernel_name=sandbox.KERNEL_NAME, kernel_spec_manager=specs)
        try:
            ExecutePreprocessor(config=config, timeout=timeout, allow_errors=True, **options).preprocess(
                notebook, {"metadata": {"path": str(folder)}}, km=manager
            )
        finally:
            manager.shutdown_kernel(now=True)
    else:
        with mock.patch.dict(os.environ, env):
            ExecutePreprocessor(config=config, timeout=timeout, allow_errors=True, **options).preprocess(
                notebook, {"metadata": {"path": str(folder)}}
            )
    texts = []
    for cell in notebook.cells:
        text = ""
        for output in cell.outputs:
            if output.output_type == "stream":
                text += output.text
            elif output.output_type == "error":
                text += f"{output.ename}: {output.evalue}\n"
        texts.append(text)
    kind = texts.pop(0)
    assert kind in ("", "True" if WARM_SOCKET else "False"), f"expected a {'warm' if WARM_SOCKET else 'cold'} kernel"
    return texts


def last_json(text: str):
    return json.loads(text.strip().splitlines()[-1])


def host_processes_with(marker: str) -> list[int]:
    """Host pids whose command line contains `marker`."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if marker.encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.append(int(pid))
        except OSError:
            pass
    return found


# --- the machinery -----------------------------------------------------------------------------------------


def test_limits_reject_nonsense():
    with pytest.raises(ValueError, match="memory"):
        Limits(memory=0)
    with pytest.raises(ValueError, match="processes"):
        Limits(processes="10")


def test_probe_explains_a_missing_tool(monkeypatch):
    monkeypatch.setattr(sandbox.shutil, "which", lambda name: None)
    ok, reason = sandbox.probe()
    assert not ok
    assert "bwrap" in reason and "apt-get install -y bubblewrap" in reason


def test_probe_explains_a_sandbox_that_cannot_start(monkeypatch):
    failing = ["/bin/sh", "-c", "echo 'bwrap: No permissions to create new namespace' >&2; exit 1"]
    monkeypatch.setattr(sandbox.sandbox_kernel, "build_command", lambda *args: (failing, []))
    ok, reason = sandbox.probe()
    assert not ok
    assert "No permissions to create new namespace" in reason and "namespaces must be allowed" in reason


def test_setup_rejects_a_scratch_path_too_long_for_sockets(tmp_path):
    with pytest.raises(ValueError, match="too long"):
        sandbox.kernel_setup(tmp_path / ("x" * 120), Limits())


def test_kernel_works_in_its_own_copy_of_the_folder(scratch, folder):
    (folder / "secret-link").symlink_to(ROOT / "README.md")
    [out] = run(
        scratch,
        folder,
        [
            "import os, socket, json\n"
            "data = open('data.txt').read()\n"
            "open('data.txt', 'w').write('changed')\n"
            "open('new.txt', 'w').write('new')\n"
            "print(json.dumps([os.getcwd(), socket.gethostname(), sorted(os.listdir('.')), data]))"
        ],
    )
    cwd, hostname, listing, data = last_json(out)
    assert (cwd, hostname, data) == ("/home/student/01_stage", "sandbox", "alice's data\n")
    assert listing == ["data.txt", "new.txt"]  # the symlink was not copied
    assert sorted(p.name for p in folder.iterdir()) == ["data.txt", "secret-link"]
    assert (folder / "data.txt").read_text() == "alice's data\n"


def test_a_folder_too_large_for_the_sandbox_stops_the_kernel_with_a_reason(scratch, folder, capfd):
    (folder / "huge.bin").write_bytes(b"x" * 2 * 1024**2)
    with pytest.raises(RuntimeError, match="Kernel died"):
        run(scratch, folder, ["print('never')"], limits=Limits(tmp_space=1))
    assert "too large to copy into the sandbox" in capfd.readouterr().err


# --- what issue 8 asks ------------------------------------------------------------------------------------


def test_course_files_are_out_of_reach(scratch, tmp_path):
    token = uuid.uuid4().hex
    course = tmp_path / "course"
    secrets = {
        course / "source" / "01_stage" / "01_stage.ipynb": f"HIDDEN-TESTS-{token}",
        course / "gradebook.db": f"GRADEBOOK-{token}",
        course / "submitted" / "bob" / "01_stage" / "01_stage.ipynb": f"OTHER-STUDENT-{token}",
    }
    for path, text in secrets.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    folder = course / "autograded" / "alice" / "01_stage"
    folder.mkdir(parents=True)
    (folder / "01_stage.ipynb").write_text("alice's notebook")
    probes = [str(p) for p in secrets] + [str(course), str(ROOT / "solutions"), str(solution_notebook("01_data"))]
    listed = [str(ROOT), str(Path.home()), "/work", "/"]
    code = f"""
import json, os, sys
needle = ({token[:16]!r} + {token[16:]!r}).encode()  # split: this cell's source is in IPython's history file
skip = {{os.path.realpath(p) for p in ["/usr", "/proc", "/sys", "/dev", sys.prefix, sys.base_prefix]}}
names, found = [], []
for top, dirs, files in os.walk("/"):
    dirs[:] = [d for d in dirs if os.path.realpath(os.path.join(top, d)) not in skip]
    names += dirs + files
    for name in files:
        try:
            with open(os.path.join(top, name), "rb") as handle:
                if needle in handle.read(1_000_000):
                    found.append(os.path.join(top, name))
        except OSError:
            pass
upwards, path = [], os.getcwd()
while path != "/":
    upwards += os.listdir(path)
    path = os.path.dirname(path)
opened = {{}}
for path in {probes!r}:
    try:
        open(path, "rb").close()
        opened[path] = "READABLE"
    except OSError as error:
        opened[path] = type(error).__name__
proc_cwd = {{}}
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        proc_cwd[pid] = os.listdir("/proc/%s/cwd" % pid)
    except OSError as error:
        proc_cwd[pid] = type(error).__name__
listings = {{path: sorted(os.listdir(path)) if os.path.isdir(path) else [] for path in {listed!r}}}
print(json.dumps(dict(names=names, found=found, upwards=upwards, opened=opened, ppid=os.getppid(),
                      proc_cwd=proc_cwd, listings=listings)))
"""
    [out] = run(scratch, folder, [code])
    report = last_json(out)
    assert report["found"] == []
    assert "gradebook.db" not in report["names"] and "source" not in report["upwards"]
    assert set(report["upwards"]) <= {"01_stage", "01_stage.ipynb", ".ipython", "student"}
    assert all(
        result in ("FileNotFoundError", "IsADirectoryError", "PermissionError") for result in report["opened"].values()
    ), report["opened"]
    assert report["opened"][str(course)] == "FileNotFoundError"
    # The parent's cwd was tried; a warm kernel's parent is outside its PID namespace (getppid() is 0).
    assert str(report["ppid"]) in report["proc_cwd"] or (WARM_SOCKET and report["ppid"] == 0)
    assert "gradebook.db" not in json.dumps(report["proc_cwd"])
    # The only host folders under the repository, HOME and / are the Python installation and the venv.
    python = [Path(p) for p in sandbox._python_paths()]
    allowed = {str(a) for p in python for a in [p, *p.parents]}
    for path, entries in report["listings"].items():
        if path != "/":
            assert {str(Path(path) / e) for e in entries} <= allowed, (path, entries)
    assert set(report["listings"]["/"]) <= {
        "bin",
        "dev",
        "etc",
        "home",
        "lib",
        "lib32",
        "lib64",
        "libx32",
        "proc",
        "run",
        "sbin",
        "tmp",
        "usr",
    } | {p.parts[1] for p in python}


def test_nothing_persists_into_later_kernels(scratch, folder):
    token = uuid.uuid4().hex
    plant = f"""
import os, site
startup = os.path.expanduser("~/.ipython/profile_default/startup")
os.makedirs(startup, exist_ok=True)
open(os.path.join(startup, "00-{token}.py"), "w").write("PLANTED_{token} = True")
os.makedirs(site.getusersitepackages(), exist_ok=True)
custom = os.path.join(site.getusersitepackages(), "usercustomize.py")
open(custom, "w").write("import builtins; builtins.PLANTED_{token} = True")
open("/tmp/{token}", "w").write("left behind")
print("planted")
"""
    assert run(scratch, folder, [plant]) == ["planted\n"]
    [out] = run(
        scratch,
        folder,
        [
            "import builtins, json, os, subprocess, sys\n"
            f"child = subprocess.run([sys.executable, '-c', 'import builtins; print(hasattr(builtins, \"PLANTED_{token}\"))'],"  # noqa: E501
            " capture_output=True, text=True).stdout.strip()\n"
            f"print(json.dumps(['PLANTED_{token}' in globals(), hasattr(builtins, 'PLANTED_{token}'), child,"
            f" os.path.exists('/tmp/{token}'), os.listdir(os.path.expanduser('~'))]))"
        ],
    )
    in_kernel, in_builtins, in_child, tmp_file, home = last_json(out)
    assert (in_kernel, in_builtins, in_child, tmp_file) == (False, False, "False", False)
    assert ".local" not in home
    host_startup = Path.home() / ".ipython" / "profile_default" / "startup" / f"00-{token}.py"
    assert not host_startup.exists()
    assert (
        not (Path(site.getusersitepackages()) / "usercustomize.py").exists()
        or token not in (Path(site.getusersitepackages()) / "usercustomize.py").read_text()
    )


def test_tmp_is_private(scratch, folder):
    token = uuid.uuid4().hex
    host_file = Path("/tmp") / f"host-{token}"
    host_file.write_text("the grader's")
    try:
        [out] = run(
            scratch,
            folder,
            [
                f"import json, os\nopen('/tmp/kernel-{token}', 'w').write('x')\n"
                f"print(json.dumps([os.path.exists({str(host_file)!r}), sorted(os.listdir('/tmp'))]))"
            ],
        )
    finally:
        host_file.unlink()
    sees_host_file, listing = last_json(out)
    assert not sees_host_file
    assert f"kernel-{token}" in listing
    assert not (Path("/tmp") / f"kernel-{token}").exists()


def test_no_network_not_even_loopback(scratch, folder):
    server = socket.create_server(("127.0.0.1", 0))
    server.setblocking(False)
    port = server.getsockname()[1]
    try:
        [out] = run(
            scratch,
            folder,
            [
                "import json, socket\n"
                "try:\n"
                f"    socket.create_connection(('127.0.0.1', {port}), timeout=5); result = 'CONNECTED'\n"
                "except OSError as error:\n"
                "    result = type(error).__name__\n"
                "print(json.dumps([result, [name for _, name in socket.if_nameindex()]]))"
            ],
        )
        with pytest.raises(BlockingIOError):
            server.accept()  # nobody knocked
    finally:
        server.close()
    result, interfaces = last_json(out)
    assert result in ("ConnectionRefusedError", "OSError", "TimeoutError")
    assert interfaces == ["lo"]


def test_setsid_child_dies_with_the_kernel(scratch, folder):
    marker = str(900000 + uuid.uuid4().int % 99999)
    seen_while_running = []
    start = (
        "import subprocess, sys\n"
        f"subprocess.Popen(['setsid', 'sleep', '{marker}'])\n"
        f"subprocess.Popen([sys.executable, '-c', 'import os, time; os.setsid(); os.fork() or time.sleep({marker})'])  # a daemon\n"  # noqa: E501
        "import time; time.sleep(1)"
    )

    def look(cell, cell_index, execute_reply):
        seen_while_running.append(host_processes_with(marker))

    run(scratch, folder, [start], on_cell_executed=look)
    assert len(seen_while_running[-1]) >= 2  # `setsid sleep`, and the daemon (its parent has exited)
    deadline = time.monotonic() + 10
    while host_processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert host_processes_with(marker) == []


def test_limits_fail_the_cell_and_the_kernel_goes_on(scratch, folder):
    limits = Limits(memory=2048, file_size=5, processes=40)
    outputs = run(
        scratch,
        folder,
        [
            "import resource\nprint([resource.getrlimit(r)[0] for r in "
            "(resource.RLIMIT_AS, resource.RLIMIT_FSIZE, resource.RLIMIT_NPROC)])",
            "hog = bytearray(3 * 1024 ** 3)",
            "open('big.bin', 'wb').write(b'x' * 6 * 1024 ** 2)",
            "import os, signal, time\nchildren = []\ntry:\n"
            "    for _ in range(100):\n"
            "        pid = os.fork()\n"
            "        if pid == 0:\n"
            "            time.sleep(60); os._exit(0)\n"
            "        children.append(pid)\n"
            "finally:\n"
            "    for pid in children:\n"
            "        os.kill(pid, signal.SIGKILL); os.waitpid(pid, 0)\n"
            "    print(len(children))",
            "print('graded on')",
        ],
        limits=limits,
    )
    assert outputs[0].strip() == str([2048 * 1024**2, 5 * 1024**2, 40])
    assert "MemoryError" in outputs[1]
    assert "File too large" in outputs[2]
    forked, error = outputs[3].strip().splitlines()
    assert 0 < int(forked) < 40 and "Resource temporarily unavailable" in error
    assert outputs[4] == "graded on\n"
    assert (folder / "big.bin").exists() is False


def test_cpu_limit_ends_a_runaway_kernel(scratch, folder):
    start = time.monotonic()
    with pytest.raises(DeadKernelError):
        run(scratch, folder, ["while True: pass"], limits=Limits(cpu_seconds=2), timeout=60)
    assert time.monotonic() - start < 30


def test_interrupt_reaches_the_kernel(scratch, folder):
    outputs = run(scratch, folder, ["while True: pass", "print('next cell')"], timeout=3, interrupt_on_timeout=True)
    assert "KeyboardInterrupt" in outputs[0]
    assert outputs[1] == "next cell\n"


def test_python_environment_is_read_only(scratch, folder):
    torch_init = Path(importlib.util.find_spec("torch").origin)
    before = torch_init.stat().st_mtime_ns
    [out] = run(
        scratch,
        folder,
        [
            "import importlib.util, json, os, sys, sysconfig\nresults = []\n"
            "for path in [os.path.join(sysconfig.get_paths()['purelib'], 'evil.pth'), "
            "os.path.join(sys.base_prefix, 'evil.txt')]:\n"
            "    try:\n        open(path, 'w').close(); results.append('WRITTEN')\n"
            "    except OSError as error:\n        results.append(type(error).__name__)\n"
            "try:\n    open(importlib.util.find_spec('torch').origin, 'a').close(); results.append('WRITTEN')\n"
            "except OSError as error:\n    results.append(type(error).__name__)\n"
            "print(json.dumps(results))"
        ],
    )
    assert "WRITTEN" not in last_json(out) and len(last_json(out)) == 3
    assert torch_init.stat().st_mtime_ns == before


def test_nbgrader_autograde_runs_the_kernel_in_the_sandbox(scratch, tmp_path, monkeypatch):
    """Real `nbgrader autograde` with kernel_setup's arguments: full marks, and the hostile cell finds nothing."""
    stage = "01_data"
    workspace = PlainCourse(tmp_path / "course").create([stage])
    notebook = nbformat.read(solution_notebook(stage), as_version=4)
    gradebook = workspace.root / "gradebook.db"
    notebook.cells.append(
        nbformat.v4.new_code_cell(
            "import os, socket\n"
            f"try:\n    open({str(gradebook)!r}, 'rb'); print('GRADEBOOK READ')\n"
            "except OSError as error:\n    print('no gradebook:', type(error).__name__)\n"
            "print('host:', socket.gethostname(), os.getcwd())"
        )
    )
    submitted = tmp_path / "alice.ipynb"
    nbformat.write(notebook, submitted)
    workspace.submit("alice", stage, submitted)
    args, env = sandbox.kernel_setup(scratch, Limits(), WARM_SOCKET)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    workspace.nbgrader("autograde", stage, "--force", *args)
    [score] = workspace.scores(stage)
    assert score.max_score > 0 and score.score == score.max_score
    graded = nbformat.read(workspace.root / "autograded" / "alice" / stage / f"{stage}.ipynb", as_version=4)
    text = "".join(o.get("text", "") for o in graded.cells[-1].outputs)
    assert "no gradebook: FileNotFoundError" in text
    assert f"host: sandbox /home/student/{stage}" in text


# --- warm kernels (autograder/isolation/warm_kernels.py) -------------------------------------------------------------

KERNEL_PORTRAIT = """
import json, os, resource, sys, numpy
status = dict(line.split(":\\t", 1) for line in open("/proc/self/status").read().splitlines() if ":\\t" in line)
print(json.dumps({"env": dict(os.environ), "path": sys.path, "cwd": os.getcwd(), "uid_base": os.getuid() // 10**9,
                  "limits": [resource.getrlimit(getattr(resource, n)) for n in
                             ("RLIMIT_AS", "RLIMIT_CPU", "RLIMIT_FSIZE", "RLIMIT_NPROC", "RLIMIT_CORE")],
                  "caps": [status[k].strip() for k in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")],
                  "no_new_privs": status["NoNewPrivs"].strip(), "random": numpy.random.randint(1 << 30),
                  "hostname": os.uname().nodename, "flags": [sys.flags.safe_path, sys.flags.no_user_site]}))
"""


def test_a_warm_kernel_starts_like_a_cold_one(ready, warm_server, folder):
    """Same environment, sys.path, limits, uid, capabilities (none) as a kernel started fresh in the sandbox;
    its own random seeds."""
    global WARM_SOCKET
    portraits = {}
    for kind, socket_path in [
        ("cold", None),
        ("warm", warm_server.socket_path),
        ("warm again", warm_server.socket_path),
    ]:
        WARM_SOCKET = socket_path
        scratch = Path(tempfile.mkdtemp(prefix="sbx-test-"))
        try:
            [out] = run(scratch, folder, [KERNEL_PORTRAIT])
        finally:
            WARM_SOCKET = None
            shutil.rmtree(scratch, ignore_errors=True)
        portraits[kind] = last_json(out)
    cold, warm, again = portraits["cold"], portraits["warm"], portraits["warm again"]
    cold["env"].pop("PWD", None)  # set by bwrap's --chdir for the process it starts; a warm kernel is forked
    assert warm["env"] == cold["env"]
    for key in ("path", "cwd", "uid_base", "limits", "caps", "no_new_privs", "hostname", "flags"):
        assert warm[key] == cold[key], key
    assert set(warm["caps"]) == {"0000000000000000"} and warm["no_new_privs"] == "1"
    assert warm["random"] != again["random"]


def test_without_its_server_a_warm_kernel_starts_cold(ready, folder, capfd):
    global WARM_SOCKET
    scratch = Path(tempfile.mkdtemp(prefix="sbx-test-"))
    WARM_SOCKET = str(scratch / "no-server.sock")
    try:
        run(scratch, folder, ["print('graded anyway')"])  # run() asserts the kernel is warm: it is not
    except AssertionError as error:
        assert "expected a warm kernel" in str(error)
    else:
        pytest.fail("a kernel without its server claimed to be warm")
    finally:
        WARM_SOCKET = None
        shutil.rmtree(scratch, ignore_errors=True)
    assert "no warm kernel" in capfd.readouterr().err


def test_warm_kernels_of_two_students_do_not_see_each_other(ready, warm_server, tmp_path):
    """Two warm kernels at the same time: neither sees the other's processes or files."""
    import threading

    global WARM_SOCKET, STARTS_TOGETHER
    marker = uuid.uuid4().hex
    folders = []
    for student in ("alice", "bob"):
        path = tmp_path / student / "01_stage"
        path.mkdir(parents=True)
        (path / f"{student}-{marker}.txt").write_text(student)
        folders.append(path)
    WARM_SOCKET, STARTS_TOGETHER = warm_server.socket_path, True
    scratches = [Path(tempfile.mkdtemp(prefix="sbx-test-")) for _ in folders]
    outputs = {}
    look = (
        "import json, os, time\nseen = []\n"
        "for _ in range(30):\n"
        "    for pid in filter(str.isdigit, os.listdir('/proc')):\n"
        "        try:\n            seen.append(open(f'/proc/{pid}/cmdline', 'rb').read().decode(errors='replace'))\n"
        "        except OSError:\n            pass\n"
        "    time.sleep(0.1)\n"
        "found = [top + '/' + name for top, _, names in os.walk('/home') for name in names]\n"
        "print(json.dumps([os.getuid(), sorted(set(seen)), found]))"
    )
    try:
        threads = [
            threading.Thread(target=lambda i=i: outputs.__setitem__(i, run(scratches[i], folders[i], [look])))
            for i in range(2)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
    finally:
        WARM_SOCKET, STARTS_TOGETHER = None, False
        for scratch in scratches:
            shutil.rmtree(scratch, ignore_errors=True)
    (uid_a, procs_a, files_a), (uid_b, procs_b, files_b) = (last_json(outputs[i][0]) for i in range(2))
    assert [f for f in files_a if marker in f] == [f"/home/student/01_stage/alice-{marker}.txt"]
    assert [f for f in files_b if marker in f] == [f"/home/student/01_stage/bob-{marker}.txt"]
    assert len(procs_a) <= 3 and len(procs_b) <= 3, (procs_a, procs_b)  # bwrap's init, the placeholder, the kernel
    if os.geteuid() == 0:
        assert uid_a != uid_b


@pytest.mark.parametrize("stage", ["01_data", "05_module"])
def test_a_solution_notebook_gives_the_same_outputs_warm_and_cold(ready, warm_server, stage, tmp_path):
    """Every code cell: the same kinds of output (streams, figures, errors) and the same text, whether the
    kernel was started fresh or forked warm (figures too: the inline backend hooks into the forked shell)."""
    global WARM_SOCKET
    seen = {}
    for kind, socket_path in [("cold", None), ("warm", warm_server.socket_path)]:
        WARM_SOCKET = socket_path
        scratch = Path(tempfile.mkdtemp(prefix="sbx-test-"))
        try:
            args, env = sandbox.kernel_setup(scratch, Limits(), socket_path)
            notebook = nbformat.read(solution_notebook(stage), as_version=4)
            with mock.patch.dict(os.environ, env):
                ExecutePreprocessor(config=KVArgParseConfigLoader(args).load_config(), timeout=120).preprocess(
                    notebook, {"metadata": {"path": str(tmp_path)}}
                )
        finally:
            WARM_SOCKET = None
            shutil.rmtree(scratch, ignore_errors=True)
        seen[kind] = [
            [(o.output_type, o.get("name"), sorted(o.get("data", {})), o.get("text")) for o in cell.outputs]
            for cell in notebook.cells
            if cell.cell_type == "code"
        ]
    assert seen["warm"] == seen["cold"]
    assert any("image/png" in kinds for cell in seen["warm"] for _, _, kinds, _ in cell)
