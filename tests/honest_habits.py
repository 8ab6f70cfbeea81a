"""Honest notebook habits: what real students leave in their notebooks, none of which changes how tests run.

Each habit is one student's 01_data: the instructor's answers plus the habit's own cells (inserted after the
answer cell `make_batch`, unless `where` says otherwise). The grader must give every one of them full marks
and the status `graded`; what its static scan finds is only a note (tests/test_honest_habits.py).
"""

from dataclasses import dataclass

import crafted


@dataclass(frozen=True)
class Habit:
    name: str  # the student id
    cells: tuple[str, ...]  # the student's own cells, in order
    where: str = "after"  # "after" make_batch, "top" (before the setup cell), "end" (after the last cell)


def habit(name: str, *cells: str, where: str = "after") -> Habit:
    return Habit(name, cells, where)


HABITS = [
    # -- magics -----------------------------------------------------------------------------------------
    habit("load_ext_autoreload", "%load_ext autoreload\n%autoreload 2"),
    habit("time_cell_magic", "%%time\nX_timed, y_timed = make_batch(1000)"),
    habit("timeit_magics", "%timeit -n 3 -r 1 make_batch(100)", "%%timeit -n 2 -r 1\nmake_batch(50)"),
    habit("matplotlib_magics", "%matplotlib inline", "%config InlineBackend.figure_format = 'retina'"),
    habit("pip_magics", "%pip list 2>/dev/null | head -3", "!pip show torch | head -2"),
    habit("shell_lines", "!ls -la\n!pwd\n!echo hello from the shell", "files = !ls\nprint(files)"),
    habit("shell_cell_magics", "%%bash\necho hi from bash\nls | head -3", "%%sh\ndate"),
    habit("whos_and_env", "%whos", "%who", "%env MY_FLAG=1", "%env"),
    habit(
        "capture_magic",
        "%%capture captured\nprint('not shown')\nX_quiet, y_quiet = make_batch(3)",
        "print(captured.stdout.strip())",
    ),
    habit(
        "writefile_run_and_reload",
        "%%writefile my_helpers.py\ndef double(x):\n    return 2 * x\n",
        "import importlib\nimport my_helpers\nimportlib.reload(my_helpers)\nprint(my_helpers.double(21))",
        "%run my_helpers.py\nprint(double(2))",
    ),
    habit("debugging_magics", "%xmode Minimal", "%pdb on", "%precision 3\n3.14159265", "%autosave 120"),
    habit(
        "help_and_introspection",
        "make_batch?",
        "help(make_batch)",
        "print(dir(torch.nn)[:5])",
        "import inspect\nprint(inspect.getsource(make_batch)[:40])\nprint(inspect.signature(make_batch))",
    ),
    habit("history_underscore", "40 + 2", "answer = _\nprint(answer, type(Out), len(In), _i)", "%history -l 2"),
    habit(
        "display_markdown_html",
        "from IPython.display import display, Markdown, HTML, clear_output\n"
        "display(Markdown('**make_batch** works'))\ndisplay(HTML('<b>bold</b>'))\nclear_output(wait=True)",
        "%%html\n<i>a cell of HTML</i>",
        "%%markdown\n*a cell of markdown*",
    ),
    habit(
        "get_ipython_helpers",
        "from IPython import get_ipython\nIN_COLAB = 'google.colab' in str(get_ipython())\n"
        "get_ipython().run_line_magic('matplotlib', 'inline')\nprint(IN_COLAB)",
    ),
    habit(
        "colab_try_import",
        "try:\n    import google.colab  # noqa\n    IN_COLAB = True\nexcept ImportError:\n    IN_COLAB = False\n"
        "print('Colab' if IN_COLAB else 'not Colab')",
    ),
    habit("reset_at_the_top", "%reset -f", where="top"),
    habit("cd_into_own_folder", "%mkdir -p work\n%cd work", "%pwd", "%cd .."),
    # -- printing, progress, logging, warnings, timing ---------------------------------------------------
    habit("print_inside_answer"),  # (the answer itself prints: see honest_class)
    habit(
        "tqdm_like_progress",
        "import sys\nfor step in range(30):\n    sys.stdout.write(f'\\rstep {step + 1}/30')\n    sys.stdout.flush()\n"
        "print()",
        "class Bar:\n    def __init__(self, total):\n        self.total, self.done = total, 0\n"
        "    def update(self):\n        self.done += 1\n        print(f'\\r[{\"#\" * self.done:<{self.total}}]', end='')\n"
        "bar = Bar(10)\nfor _ in range(10):\n    bar.update()",
    ),
    habit(
        "logging",
        "import logging\nlogging.basicConfig(level=logging.INFO, format='%(levelname)s %(message)s')\n"
        "log = logging.getLogger('student')\nlog.info('made a batch of %d', len(make_batch(4)[0]))\n"
        "logging.captureWarnings(True)",
    ),
    habit(
        "warnings_filters",
        "import warnings\nwarnings.filterwarnings('ignore')\nwarnings.simplefilter('ignore', UserWarning)\n"
        "warnings.warn('just so you know')",
    ),
    habit("stderr_in_own_cell", "import sys\nprint('debug:', make_batch(2)[0].shape, file=sys.stderr)"),
    habit(
        "timing_and_sleep",
        "import time\nstart = time.perf_counter()\nmake_batch(1000)\ntime.sleep(0.2)\n"
        "print(f'{time.perf_counter() - start:.2f} s')",
        "from datetime import datetime\nprint(datetime.now().year > 2000)",
    ),
    # -- own checks, plots, seeds --------------------------------------------------------------------------
    habit(
        "own_asserts",
        "X_mine, y_mine = make_batch(7)\nassert X_mine.shape == (7, 10)\nassert y_mine.shape == (7, 1)\n"
        "assert ((X_mine == 2).sum(1) > (X_mine == 4).sum(1)).float().unsqueeze(1).equal(y_mine)",
    ),
    habit(
        "np_and_torch_testing",
        "X_mine, y_mine = make_batch(6)\nnp.testing.assert_array_equal(X_mine.numpy(), X_mine.numpy())\n"
        "np.testing.assert_allclose(y_mine.numpy(), y_mine.numpy())\ntorch.testing.assert_close(y_mine, y_mine)\n"
        "assert torch.allclose(y_mine, y_mine) and np.allclose(y_mine, y_mine)",
    ),
    habit(
        "exceptions_caught",
        "try:\n    make_batch(-1)\nexcept Exception as error:\n    print('as expected:', type(error).__name__)",
        "try:\n    1 / 0\nexcept ZeroDivisionError:\n    pass\nfinally:\n    print('done')",
    ),
    habit(
        "own_plots",
        "fig, ax = plt.subplots(figsize=(4, 3))\nX_mine, y_mine = make_batch(200)\n"
        "ax.hist(X_mine.flatten().numpy(), bins=10)\nax.set_title('my digits')\nplt.show()",
        "plt.style.use('ggplot')\nplt.rcParams['figure.figsize'] = (5, 3)\nplt.plot([1, 2, 3])\n"
        "plt.savefig('my_plot.png')\nplt.close('all')\nplt.style.use('default')",
    ),
    habit(
        "own_seeds",
        "import random\nrandom.seed(1)\nnp.random.seed(1)\ntorch.manual_seed(1)\n"
        "rng = np.random.default_rng(2)\nprint(rng.integers(10), random.random() < 1)",
    ),
    habit(
        "print_options",
        "np.set_printoptions(precision=3, suppress=True)\ntorch.set_printoptions(precision=2)\nprint(torch.rand(2))",
    ),
    habit(
        "no_grad_and_anomaly",
        "with torch.no_grad():\n    X_mine, y_mine = make_batch(4)\ntorch.autograd.set_detect_anomaly(False)\n"
        "device = 'cuda' if torch.cuda.is_available() else 'cpu'\nprint(device, torch.__version__ > '2')",
    ),
    # -- files in the own folder ---------------------------------------------------------------------------
    habit(
        "torch_save_load",
        "X_mine, y_mine = make_batch(8)\ntorch.save({'X': X_mine, 'y': y_mine}, 'batch.pt')\n"
        "loaded = torch.load('batch.pt')\nassert torch.equal(loaded['X'], X_mine)",
    ),
    habit(
        "save_model",
        "model = torch.nn.Sequential(torch.nn.Linear(10, 4), torch.nn.ReLU(), torch.nn.Linear(4, 1))\n"
        "torch.save(model.state_dict(), 'model.pt')\nmodel.load_state_dict(torch.load('model.pt'))\n"
        "torch.save(model, 'whole_model.pt')\nagain = torch.load('whole_model.pt', weights_only=False)\n"
        "print(again)",
    ),
    habit(
        "numpy_save_load",
        "X_mine, _ = make_batch(5)\nnp.save('digits.npy', X_mine.numpy())\nback = np.load('digits.npy')\n"
        "np.savetxt('digits.txt', back, fmt='%d')\nprint(np.loadtxt('digits.txt').shape)\n"
        "np.savez('both.npz', a=back)\nprint(np.load('both.npz')['a'].sum() == back.sum())",
    ),
    habit(
        "notes_file",
        "with open('notes.txt', 'w') as handle:\n    handle.write('make_batch: done\\n')\n"
        "with open('notes.txt') as handle:\n    print(handle.read())\n"
        "with open('notes.txt', 'a') as handle:\n    handle.write('more\\n')",
    ),
    habit(
        "json_and_csv",
        "import json, csv\njson.dump({'N': 5}, open('settings.json', 'w'))\nprint(json.load(open('settings.json')))\n"
        "with open('rows.csv', 'w', newline='') as f:\n    csv.writer(f).writerows([[1, 2], [3, 4]])\n"
        "print(list(csv.reader(open('rows.csv'))))",
    ),
    habit(
        "pickle_round_trip",
        "import pickle\nwith open('batch.pkl', 'wb') as f:\n    pickle.dump(make_batch(3), f)\n"
        "with open('batch.pkl', 'rb') as f:\n    X_back, y_back = pickle.load(f)\nprint(X_back.shape)",
    ),
    habit(
        "os_module",
        "import os\nprint(os.getcwd())\nprint(sorted(os.listdir('.'))[:5])\nos.makedirs('results', exist_ok=True)\n"
        "print(os.path.exists('results'), os.cpu_count() > 0, os.environ.get('HOME') is not None)\n"
        "os.environ['CUDA_VISIBLE_DEVICES'] = ''\nfor root, dirs, files in os.walk('.'):\n    break\n"
        "os.rename('results', 'results2')\nos.rmdir('results2')",
    ),
    habit(
        "pathlib_module",
        "from pathlib import Path\nout = Path('results')\nout.mkdir(exist_ok=True)\n(out / 'a.txt').write_text('x')\n"
        "print((out / 'a.txt').read_text(), sorted(p.name for p in Path('.').iterdir())[:3])\n"
        "print(list(Path('.').glob('*.txt')), Path.cwd().name != '')\n"
        "import glob, shutil, tempfile\nprint(glob.glob('*.txt'))\nshutil.rmtree(out)\n"
        "with tempfile.TemporaryDirectory() as tmp:\n    print(Path(tmp).exists())",
    ),
    habit(
        "sys_module",
        "import sys\nprint(sys.version_info >= (3, 8), sys.platform)\nprint([p for p in sys.path if p][:2])\n"
        "print('torch' in sys.modules, sys.getrecursionlimit())\nsys.setrecursionlimit(3000)",
    ),
    # -- Python features -------------------------------------------------------------------------------------
    habit(
        "threads",
        "import threading\nresults = []\nworker = threading.Thread(target=lambda: results.append(make_batch(3)))\n"
        "worker.start()\nworker.join()\nprint(len(results))",
        "from concurrent.futures import ThreadPoolExecutor\nwith ThreadPoolExecutor(2) as pool:\n"
        "    shapes = [x.shape for x, _ in pool.map(make_batch, [2, 3])]\nprint(shapes)",
        "import threading\ndef slow_work():\n    import time\n    time.sleep(1.5)\n"
        "threading.Thread(target=slow_work).start()",
    ),
    habit(
        "helper_class_dunders",
        "class Digits(torch.utils.data.Dataset):\n    def __init__(self, n):\n        self.X, self.y = make_batch(n)\n"
        "    def __len__(self):\n        return len(self.X)\n    def __getitem__(self, i):\n        return self.X[i], self.y[i]\n"
        "    def __repr__(self):\n        return f'Digits({len(self)})'\n    def __bool__(self):\n        return len(self) > 0\n"
        "data = Digits(12)\nloader = torch.utils.data.DataLoader(data, batch_size=4, shuffle=True)\n"
        "print(data, len(data), [xb.shape for xb, yb in loader][:1])",
    ),
    habit(
        "value_class_with_eq",
        "class Point:\n    def __init__(self, x, y):\n        self.x, self.y = x, y\n"
        "    def __eq__(self, other):\n        return isinstance(other, Point) and (self.x, self.y) == (other.x, other.y)\n"
        "    def __hash__(self):\n        return hash((self.x, self.y))\n    def __lt__(self, other):\n"
        "        if not isinstance(other, Point):\n            return NotImplemented\n        return (self.x, self.y) < (other.x, other.y)\n"
        "    def __float__(self):\n        return float(self.x)\n    def __len__(self):\n        return 2\n"
        "corner = Point(0, 0)\nprint(corner == Point(0, 0), sorted([Point(2, 1), corner])[0] == corner)",
    ),
    habit(
        "setattr_and_vars",
        "class Config:\n    def __init__(self, **settings):\n        for key, value in settings.items():\n"
        "            setattr(self, key, value)\nconfig = Config(N=5, lr=0.1)\nprint(vars(config), getattr(config, 'N'))\n"
        "print(sorted(vars(config)))",
    ),
    habit(
        "dataclass_and_enum",
        "from dataclasses import dataclass, field, asdict\nfrom enum import Enum\nfrom typing import NamedTuple\n"
        "@dataclass(order=True)\nclass Run:\n    lr: float = 0.1\n    tags: list = field(default_factory=list)\n"
        "class Mode(Enum):\n    TRAIN = 1\n    EVAL = 2\nclass Pair(NamedTuple):\n    a: int\n    b: int\n"
        "run = Run()\nprint(asdict(run), Mode.TRAIN, Pair(1, 2), run == Run(), run < Run(lr=1.0))",
    ),
    habit(
        "future_annotations_and_typing",
        "from __future__ import annotations\nfrom typing import Tuple\n"
        "def shapes(N: int) -> Tuple[torch.Size, torch.Size]:\n    X, y = make_batch(N)\n    return X.shape, y.shape\n"
        "print(shapes(3))",
    ),
    habit(
        "functools_and_copy",
        "import functools, copy\n@functools.lru_cache(maxsize=None)\ndef fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\n"
        "print(fib(30))\nmodel = torch.nn.Sequential(torch.nn.Linear(10, 2))\nclone = copy.deepcopy(model)\n"
        "twice = functools.partial(make_batch, 2)\nprint(twice()[0].shape, copy.copy([1, 2]))",
    ),
    habit(
        "globals_and_dunder_import",
        "print('make_batch' in globals(), len(locals()) > 0)\nmaker = globals()['make_batch']\n"
        "numpy_again = __import__('numpy')\nprint(maker(2)[0].shape, numpy_again is np)\n"
        "import importlib\nmath_again = importlib.import_module('math')\nprint(math_again.sqrt(4))",
    ),
    habit(
        "gc_and_memory",
        "import gc\nbig = torch.zeros(1000, 1000)\ndel big\nprint(gc.collect() >= 0)\n"
        "import sys\nprint(sys.getsizeof([1, 2, 3]) > 0)",
    ),
    habit(
        "redirect_stdout",
        "import contextlib, io\nbuffer = io.StringIO()\nwith contextlib.redirect_stdout(buffer):\n"
        "    print('into the buffer')\nprint(repr(buffer.getvalue()))",
    ),
    habit(
        "prints_grader_words",
        "print('### BEGIN HIDDEN TESTS')\nprint('my own gradebook: all good')\nprint('### END HIDDEN TESTS')",
        where="end",
    ),
    habit(
        "cell_timer_callback",
        "import time\ndef _report(result):\n    pass\nget_ipython().events.register('post_run_cell', _report)",
    ),
    habit(
        "jupyter_settings",
        "from IPython.core.interactiveshell import InteractiveShell\nInteractiveShell.ast_node_interactivity = 'all'",
        "%config Completer.use_jedi = False",
        "1 + 1\n2 + 2",
    ),
    habit(
        "profiling_magics",
        "%prun -q make_batch(200)",
        "%%prun -q\nmake_batch(100)",
        "import cProfile\ncProfile.run('make_batch(50)', 'profile.out')",
    ),
    habit("timed_answer_cell"),  # the answer cell itself starts with %%time (see honest_class)
    habit(
        "widgets_progress",
        "import ipywidgets as widgets\nfrom IPython.display import display\nbar = widgets.IntProgress(max=5)\n"
        "display(bar)\nfor _ in range(5):\n    bar.value += 1",
        "@widgets.interact(n=(1, 10))\ndef show(n=3):\n    print(make_batch(n)[0].shape)",
    ),
    habit(
        "unittest_and_doctest",
        "import unittest\nclass TestBatch(unittest.TestCase):\n    def test_shape(self):\n"
        "        self.assertEqual(tuple(make_batch(3)[0].shape), (3, 10))\n"
        "unittest.main(argv=['ignored'], exit=False)",
        'import doctest\ndef add(a, b):\n    """\n    >>> add(1, 2)\n    3\n    """\n    return a + b\n'
        "doctest.testmod(verbose=False)",
    ),
    habit(
        "traceback_and_debug_prints",
        "import traceback\ntry:\n    make_batch('five')\nexcept Exception:\n    traceback.print_exc()",
        "import pprint\npprint.pprint({'X': tuple(make_batch(2)[0].shape)})\nprint(repr(make_batch), id(make_batch) > 0)",
        "import dis\ndis.dis(lambda x: x + 1)",
    ),
    habit(
        "sys_path_append",
        "import sys, os\nsys.path.append(os.path.abspath('..'))\nsys.path.insert(0, os.getcwd())\nprint(len(sys.path) > 2)",
    ),
    habit(
        "processes",
        "import multiprocessing\nwith multiprocessing.Pool(2) as pool:\n    print(pool.map(abs, [-1, -2]))",
        "import subprocess\nprint(subprocess.run(['echo', 'hi'], capture_output=True, text=True).stdout)",
        "loader = torch.utils.data.DataLoader(torch.arange(8), batch_size=4, num_workers=2)\n"
        "print([b.tolist() for b in loader])",
    ),
    habit(
        "images_and_backends",
        "from PIL import Image\nImage.new('RGB', (4, 4)).save('tiny.png')\nprint(Image.open('tiny.png').size)",
        "from IPython.display import Image as Show\ndisplay(Show(filename='tiny.png'))",
        "plt.ion()\nplt.plot([1, 2])\nplt.show()\nplt.ioff()",
        "%%javascript\nconsole.log('hi')",
        "%%latex\n$x^2$",
        "%%svg\n<svg width='4' height='4'></svg>",
    ),
    habit(
        "namespace_magics",
        "scratch = 1\n%store scratch",
        "%xdel scratch",
        "X_tmp = 1\n%reset_selective -f X_tmp",
        "%lsmagic",
        "%alias hello echo hello",
        "%hello",
    ),
    habit(
        "jit_and_modes",
        "@torch.jit.script\ndef double(x: torch.Tensor) -> torch.Tensor:\n    return x * 2\nprint(double(torch.ones(2)))",
        "with torch.inference_mode():\n    X_inf, _ = make_batch(3)\ntorch.use_deterministic_algorithms(True)\n"
        "torch.use_deterministic_algorithms(False)\nnp.seterr(all='ignore')\nnp.seterr(all='warn')",
    ),
    habit(
        "stdout_redirected_by_hand",
        "import sys\nsaved = sys.stdout\nsys.stdout = open('log.txt', 'w')\nprint('into the file')\n"
        "sys.stdout.close()\nsys.stdout = saved",
        "sys.stdout = sys.__stdout__  # 'print to the terminal', left in place\nprint('where does this go?')",
    ),
    habit(
        "ipython_file_magics",
        "%logstart -o my_log.py",
        "%logstop",
        "%notebook my_copy.ipynb",
        "%history -f my_history.py",
        "%%file my_text.txt\nprint('hello')",
        "%run -i my_text.txt",
    ),
    habit("async_await", "import asyncio\nawait asyncio.sleep(0.05)\nprint('awaited')"),
]


def honest_class() -> dict:
    """{student: notebook}: a correct 01_data plus one habit each."""
    students = {}
    for entry in HABITS:
        notebook = crafted.correct()
        if entry.name == "print_inside_answer":
            crafted.examples.edit(
                notebook,
                "make_batch",
                "    return X, y",
                "    print(f'make_batch({N}): X {tuple(X.shape)}, y {tuple(y.shape)}')\n    return X, y",
            )
        if entry.name == "timed_answer_cell":
            answer = crafted.cell(notebook, "make_batch")
            answer.source = "%%time\n" + answer.source
        cells = list(entry.cells)
        if entry.where == "after":
            for source in reversed(cells):
                crafted.with_cell(notebook, source)
        else:
            from nbformat import v4

            new = [v4.new_code_cell(source) for source in cells]
            notebook.cells = new + notebook.cells if entry.where == "top" else notebook.cells + new
        students[entry.name] = notebook
    return students
