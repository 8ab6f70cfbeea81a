"""The grader's integrity checks, as they run *inside* the student's kernel.

This file is not imported by the grader: autograder/grading/integrity.py pastes its text into the first cell of the
notebook being graded (before any student code), followed by `__autograder_check__ = install(SETTINGS)`.
It therefore uses the standard library and what the kernel already has, and binds no other global name.

`install` records a baseline of everything a submission could bend to make tests pass without being right:
IPython's input and AST transformers, run_cell and the kernel's execute path, the event hooks, sys hooks,
builtins, the functions and classes of torch / numpy / math / operator / warnings (including the code
objects of Python functions), sys.modules, import hooks and running threads. It also installs an audit
hook (which nothing can remove) that records file access into the grading folders, directory listings,
programs started, sqlite files, sockets and ctypes.

The returned `check(nonce)` compares the present with the baseline, scans the notebook's variables for
objects of notebook-defined classes that override comparisons or truth (`__eq__` always True) or subclass
torch.Tensor / numpy.ndarray, and then *always raises* AutograderVerdict("<nonce> ok") or
AutograderVerdict("<nonce> tampered: reason; reason"). Raising doubles as a canary: code that swallows
errors, strips asserts or skips cells makes the verdict vanish, which the grader reports as tampering too.
"""


def install(settings):
    """Record the baseline; return check(nonce). settings: {"protected": [folder, ...]} (absolute paths),
    "sandbox": whether the kernel runs in the grading sandbox (it then cannot reach the grading files)."""
    import __future__

    import builtins
    import importlib
    import math
    import os
    import sys
    import threading
    import time
    import types

    shell = get_ipython()  # noqa: F821  (the IPython kernel provides it)
    watched_names = [
        "math",
        "operator",
        "warnings",
        "functools",
        "numpy",
        "numpy.testing",
        "numpy.linalg",
        "torch",
        "torch.nn",
        "torch.nn.functional",
        "torch.testing",
        "torch.linalg",
        "torch.optim",
        "torch.autograd",
    ]
    modules = {}
    for name in watched_names + ["matplotlib.pyplot"]:  # pyplot: the inline backend registers its hooks now
        try:
            modules[name] = importlib.import_module(name)
        except Exception:  # a module this course does not have
            pass
    modules.pop("matplotlib.pyplot", None)
    torch = modules.get("torch")
    numpy = modules.get("numpy")
    watched_classes = []
    if torch is not None:
        nn = torch.nn
        watched_classes += [
            torch.Tensor,
            nn.Module,
            nn.Linear,
            nn.Embedding,
            nn.Sequential,
            nn.Parameter,
            nn.ReLU,
            nn.Sigmoid,
            torch.optim.Optimizer,
            torch.optim.Adam,
            torch.optim.SGD,
        ]
        if type(torch.Tensor) is not type:
            watched_classes.append(type(torch.Tensor))  # its __instancecheck__ decides isinstance(x, Tensor)
    if "warnings" in modules:
        watched_classes.append(modules["warnings"].catch_warnings)
    # hooks the standard library documents as meant to be replaced, that only change how warnings look
    # (logging.captureWarnings() replaces showwarning)
    replaceable = {("warnings", "showwarning"), ("warnings", "formatwarning")}
    # class attributes that change how objects behave even when their value is plain data
    behaviour_names = {
        "__hash__",
        "__class__",
        "__slots__",
        "__dict__",
        "__array_priority__",
        "__module__",
        "__mro__",
        "__bases__",
    }
    future_flags = 0
    for feature in __future__.all_feature_names:
        future_flags |= getattr(__future__, feature).compiler_flag
    sandboxed = bool(settings.get("sandbox"))
    output_streams = ("sys.stdout", "sys.stderr", "the type of sys.stdout")

    # what a notebook class may define to make a comparison, an isinstance() or a library's comparison lie;
    # such classes are probed (honest ones, e.g. a dataclass, do not lie to an unrelated object)
    comparison_dunders = (
        "__eq__",
        "__ne__",
        "__lt__",
        "__le__",
        "__gt__",
        "__ge__",
        "__instancecheck__",
        "__subclasscheck__",
        "__torch_function__",
        "__torch_dispatch__",
        "__array_function__",
        "__array_ufunc__",
    )
    shell_methods = (
        "run_cell",
        "run_cell_async",
        "_run_cell",
        "run_ast_nodes",
        "run_code",
        "transform_cell",
        "transform_ast",
        "showtraceback",
        "_showtraceback",
        "showsyntaxerror",
        "should_run_async",
        "run_line_magic",
        "run_cell_magic",
        "ex",
        "ev",
        "push",
        "get_exception_only",
    )
    protected = [os.path.realpath(p) for p in settings.get("protected", [])]
    python_home = [os.path.realpath(p) for p in {sys.prefix, sys.base_prefix, sys.exec_prefix}]
    start_dir = os.path.realpath(os.getcwd())
    secret_suffixes = (".ipynb", ".db", ".sqlite", "nbgrader_config.py")
    get_type_attr = type.__getattribute__

    def fingerprint(value):
        """The value and the parts of a Python function that can be swapped without replacing it."""
        inner = value
        try:
            inner = object.__getattribute__(value, "_implementation")  # numpy's array-function dispatchers
        except Exception:
            pass
        parts = [value]
        for candidate in (value, inner):
            if type(candidate) is types.FunctionType:
                parts += [candidate.__code__, candidate.__defaults__, candidate.__kwdefaults__]
        return tuple(parts)

    def module_state(module):
        return {
            name: fingerprint(value)
            for name, value in list(vars(module).items())
            if callable(value) or isinstance(value, type)
        }

    def shell_state():
        state = {}
        for name in shell_methods:
            state["InteractiveShell." + name] = (getattr(type(shell), name, None), vars(shell).get(name))
        manager = shell.input_transformer_manager
        state["IPython input transformers"] = (
            manager,
            tuple(shell.input_transformers_cleanup),
            tuple(shell.input_transformers_post),
            tuple(getattr(manager, "cleanup_transforms", ())),
            tuple(getattr(manager, "line_transforms", ())),
            tuple(getattr(manager, "token_transformers", ())),
        )
        state["IPython AST transformers"] = tuple(shell.ast_transformers)
        prefilter = shell.prefilter_manager
        state["IPython prefilters"] = (
            prefilter,
            tuple(prefilter.transformers),
            tuple(prefilter.checkers),
            tuple(prefilter.handlers.values()),
        )
        # `from __future__ import annotations` in a cell sets a flag for the later cells: not a change
        flags = getattr(shell.compile, "flags", None)
        if isinstance(flags, int):
            flags &= ~future_flags
        state["IPython compiler"] = (
            shell.compile,
            type(shell.compile),
            flags,
            vars(type(shell.compile)).get("__call__"),
            vars(shell.compile).get("ast_parse"),
        )
        state["IPython exception handling"] = (
            shell.custom_exceptions,
            shell.CustomTB,
            shell.InteractiveTB,
            shell.SyntaxTB,
            vars(shell).get("showtraceback"),
        )
        state["IPython display hooks"] = (shell.displayhook, shell.display_pub, shell.display_formatter)
        state["IPython async runner"] = (shell.loop_runner, shell.autoawait)
        kernel = getattr(shell, "kernel", None)
        if kernel is not None:
            session = kernel.session
            state["the kernel's execute path"] = (
                kernel,
                getattr(type(kernel), "do_execute", None),
                vars(kernel).get("do_execute"),
                getattr(type(kernel), "execute_request", None),
                vars(kernel).get("execute_request"),
                tuple(kernel.shell_handlers.items()) if hasattr(kernel, "shell_handlers") else (),
                session,
                getattr(type(session), "send", None),
                vars(session).get("send"),
            )
        return state

    def event_callbacks():
        return {name: tuple(callbacks) for name, callbacks in shell.events.callbacks.items()}

    def sys_state():
        return {
            "sys.settrace": sys.gettrace(),
            "sys.setprofile": sys.getprofile(),
            "threading.settrace": getattr(threading, "_trace_hook", None),
            "threading.setprofile": getattr(threading, "_profile_hook", None),
            "sys.excepthook": sys.excepthook,
            "sys.displayhook": sys.displayhook,
            "sys.breakpointhook": sys.breakpointhook,
            "sys.stdout": sys.stdout,
            "sys.stderr": sys.stderr,
            # IPython wraps sys.stdout.write afresh at every cell (its "tee"); the class must stay the same
            "the type of sys.stdout": (type(sys.stdout), getattr(type(sys.stdout), "write", None)),
            "sys.modules": tuple((name, sys.modules.get(name)) for name in list(modules) + ["builtins", "sys"]),
        }

    def builtins_state():
        # ipykernel swaps input() at every execution to forward it to the front end
        return {
            name: fingerprint(value)
            for name, value in vars(builtins).items()
            if name not in ("_", "__", "___", "input", "raw_input")
        }

    baseline_modules = {name: module_state(module) for name, module in modules.items()}
    baseline_classes = {cls: dict(vars(cls)) for cls in watched_classes}
    baseline_shell = shell_state()
    baseline_events = event_callbacks()
    baseline_sys = sys_state()
    baseline_builtins = builtins_state()
    baseline_import_hooks = {
        "sys.meta_path (import hooks)": tuple(sys.meta_path),
        "sys.path_hooks": tuple(sys.path_hooks),
    }
    baseline_threads = set(threading.enumerate())
    ipython_dir = os.path.realpath(getattr(getattr(shell, "profile_dir", None), "location", None) or start_dir)
    ipython_dir = os.path.dirname(ipython_dir) if os.path.basename(ipython_dir).startswith("profile_") else ipython_dir
    audit_log = []  # (tampering?, what happened)

    def outside_start_dir(path):
        return not (path == start_dir or path.startswith(start_dir + os.sep))

    def in_python(path):
        return any(path == home or path.startswith(home + os.sep) for home in python_home)

    def secret_path(path):
        """Is `path` (absolute, resolved) part of the grading setup rather than the student's folder?"""
        if in_python(path) or path == ipython_dir or path.startswith(ipython_dir + os.sep):
            return False
        if os.path.basename(path) == "nbsignatures.db":  # nbformat's record of trusted notebooks (%notebook)
            return False
        if any(path == p or path.startswith(p + os.sep) for p in protected) and outside_start_dir(path):
            return True
        return path.endswith(secret_suffixes) and outside_start_dir(path)

    def other_process(path):
        """/proc/<pid>/... of another process: its working directory, files and command line."""
        parts = path.split(os.sep)
        return len(parts) > 2 and parts[1] == "proc" and parts[2].isdigit() and parts[2] != str(os.getpid())

    def shown(path):
        return os.path.basename(path) or path

    def reachable(path):
        """Evidence: the grading files can only have been read when they are there. In the sandbox they never
        are (it shows the kernel nothing but its own folder), so there a try is only a note."""
        if sandboxed:
            return False
        try:
            return os.path.exists(path)
        except Exception:
            return True

    def record(tampering, what):
        if len(audit_log) < 20 and all(what != seen for _, seen in audit_log):
            audit_log.append((tampering, what))

    def audit(event, args):
        if len(audit_log) >= 20:
            return
        try:
            if event == "open":
                path = args[0]
                if isinstance(path, (str, bytes, os.PathLike)):
                    real = os.path.realpath(os.fsdecode(path))
                    if secret_path(real) or other_process(real):
                        record(reachable(real), f"opened {shown(real)} outside its own folder")
            elif event in ("os.listdir", "os.scandir", "glob.glob"):
                path = args[0] if args and args[0] is not None else "."
                if isinstance(path, (str, bytes, os.PathLike)):
                    path = os.fsdecode(path)
                    while event == "glob.glob" and any(char in path for char in "*?["):
                        path = os.path.dirname(path)
                    real = os.path.realpath(path or ".")
                    parents = start_dir.startswith(real + os.sep) or real == "/"
                    if in_python(real):
                        pass
                    elif (
                        parents
                        or any(real == p or real.startswith(p + os.sep) for p in protected)
                        and outside_start_dir(real)
                    ):
                        record(False, f"listed the folder {real if parents else shown(real)} outside its own folder")
            elif event in ("subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "pty.spawn"):
                program = args[0] if args else "?"
                if isinstance(program, (list, tuple)):
                    program = program[0] if program else "?"
                name = os.path.basename(os.fsdecode(program)) if isinstance(program, (str, bytes)) else program
                record(False, f"started the program {name}")
            elif event == "sqlite3.connect":
                if args and args[0] not in (":memory:", b":memory:", ""):
                    real = os.path.realpath(os.fsdecode(args[0]))
                    record(secret_path(real) and reachable(real), f"opened the database {shown(real)}")
            elif event in ("socket.connect", "socket.bind"):
                family = getattr(args[0], "family", None) if args else None
                if family != getattr(sys.modules.get("socket"), "AF_UNIX", None):  # local pipes (multiprocessing)
                    record(False, "opened a network connection")
            elif event in ("ctypes.string_at", "ctypes.wstring_at", "ctypes.addressof"):
                # raw memory: what the checks compare can be changed without a trace
                record(True, "used ctypes to reach raw memory")
        except Exception:
            pass

    sys.addaudithook(audit)

    def notebook_code(value):
        """Is this callable the notebook's own code (not the standard library's, a package's or C code)?"""
        for _ in range(5):
            if type(value) is types.MethodType:
                value = value.__func__
            elif hasattr(value, "func") and type(value).__module__ == "functools":
                value = value.func
            else:
                break
        if type(value) is not types.FunctionType:
            if isinstance(value, (types.BuiltinFunctionType, types.BuiltinMethodType)):
                return False
            call = None
            for klass in get_type_attr(type(value), "__mro__"):
                call = get_type_attr(klass, "__dict__").get("__call__")
                if call is not None:
                    break
            if type(call) is not types.FunctionType:
                return not library_class(type(value))
            value = call
        name = value.__globals__.get("__name__")
        module = sys.modules.get(name) if isinstance(name, str) else None
        if module is None or name == "__main__" or getattr(module, "__dict__", None) is not value.__globals__:
            return True
        return not in_python(os.path.realpath(value.__code__.co_filename))

    def library_class(cls):
        try:
            module = sys.modules.get(get_type_attr(cls, "__module__"))
            source = getattr(module, "__file__", None)
        except Exception:
            return False
        return (
            module is not None
            and (source is None or in_python(os.path.realpath(source)))
            and get_type_attr(cls, "__module__") != "__main__"
        )

    class Unrelated:
        """An object no honest comparison calls equal, smaller or larger (a new class in every kernel)."""

        __slots__ = ()

    Unrelated.__name__ = Unrelated.__qualname__ = "p" + os.urandom(4).hex()

    def truthy(value):
        try:
            return bool(value)
        except Exception:
            return False

    def falsy(value):
        try:
            return not bool(value)
        except Exception:
            return False

    def lies(subject, is_class):
        """Does `subject` (an object, or a class for isinstance) make comparisons lie? Asks it about values it
        cannot honestly equal: an unrelated object, NaN, a tensor or array of NaN of another shape."""
        probes = [Unrelated(), math.nan]
        if torch is not None:
            probes.append(torch.full((2, 3, 5, 7), math.nan))
        if numpy is not None:
            probes.append(numpy.full((2, 3, 5, 7), math.nan))
        questions = []
        if is_class:
            questions += [lambda: isinstance(Unrelated(), subject), lambda: issubclass(Unrelated, subject)]
        else:
            for probe in probes:
                questions += [
                    lambda p=probe: subject == p,
                    lambda p=probe: falsy(subject != p),
                    lambda p=probe: subject < p,
                    lambda p=probe: subject > p,
                    lambda p=probe: subject <= p,
                    lambda p=probe: subject >= p,
                ]
            if torch is not None:
                questions += [lambda: torch.equal(subject, probes[2]), lambda: torch.allclose(subject, probes[2])]
            if numpy is not None:
                questions += [lambda: numpy.array_equal(subject, probes[3]), lambda: numpy.allclose(subject, probes[3])]
        for question in questions:
            try:
                if truthy(question()):
                    return True
            except Exception:
                continue
        return False

    def own_dunders(cls):
        """Comparison dunders defined by notebook code in the class or its bases."""
        found = []
        try:
            mro = get_type_attr(cls, "__mro__")
        except Exception:
            return found
        for klass in mro:
            try:
                if library_class(klass):
                    continue
                own = get_type_attr(klass, "__dict__")
            except Exception:
                continue
            found += [name for name in comparison_dunders if name in own and name not in found]
        return found

    def lying_class(cls, instances):
        """Why objects of the notebook-defined `cls` make comparisons lie, or None (honest classes, e.g. a
        dataclass or a Dataset with __len__, compare as they should)."""
        overridden = own_dunders(cls)
        meta = own_dunders(type(cls)) if not library_class(type(cls)) else []
        label = get_type_attr(cls, "__name__")
        if meta and lies(cls, True):
            return f"class {label} defined in the notebook makes isinstance() lie ({', '.join(meta)})"
        if not overridden:
            return None
        subjects = list(instances)
        try:
            subjects.append(cls.__new__(cls))
        except Exception:
            pass
        if any(lies(subject, False) for subject in subjects):
            return (
                f"objects of class {label} defined in the notebook compare equal to anything ({', '.join(overridden)})"
            )
        # no instance could be made: ask the dunders themselves
        own = {}
        for klass in reversed(get_type_attr(cls, "__mro__")):
            own.update(get_type_attr(klass, "__dict__"))
        for name in ("__eq__", "__lt__", "__gt__", "__le__", "__ge__"):
            function = own.get(name)
            if type(function) is types.FunctionType and not library_class(cls):
                try:
                    answer = function(Unrelated(), object())
                    if answer is not NotImplemented and truthy(answer):
                        return f"objects of class {label} defined in the notebook compare equal to anything ({name})"
                except Exception:
                    continue
        return None

    def object_problems():
        problems = []
        hidden = getattr(shell, "user_ns_hidden", {})
        classes = {}
        for name, value in list(shell.user_ns.items()):
            if name in hidden or name == "__autograder_check__" or name.startswith("_i") or name in ("_", "__", "___"):
                continue
            values = [value]
            if type(value) in (list, tuple, set, frozenset):
                values += list(value)[:100]
            elif type(value) is dict:
                values += list(value.values())[:100]
            for item in values:
                kind = type(item)
                is_class = issubclass(kind, type)
                cls = item if is_class else kind
                if library_class(cls) and (not is_class or library_class(type(cls))):
                    continue
                entry = classes.setdefault(cls, [name, []])
                if not is_class and len(entry[1]) < 3:
                    entry[1].append(item)
        for cls, (name, instances) in classes.items():
            reason = lying_class(cls, instances)
            if reason:
                problems.append(f"variable `{name}`: {reason}")
        return problems

    def same(a, b):
        if type(a) is tuple and type(b) is tuple:
            return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
        if type(a) is types.MethodType and type(b) is types.MethodType:  # bound methods are made afresh
            return a.__func__ is b.__func__ and a.__self__ is b.__self__
        return a is b or (type(a) in (int, float, str, bool) and type(a) is type(b) and a == b)

    def plain_data(value, depth=0):
        """None, numbers, text and containers of them: what caches hold (copyreg's __slotnames__ list, a
        library's `hooked = True`), never a function or a descriptor that could replace behaviour."""
        if value is None or type(value) in (bool, int, float, complex, str, bytes):
            return True
        if depth < 2 and type(value) in (list, tuple, set, frozenset):
            return all(plain_data(item, depth + 1) for item in list(value)[:50])
        if depth < 2 and type(value) is dict:
            return all(plain_data(k, depth + 1) and plain_data(v, depth + 1) for k, v in list(value.items())[:50])
        return False

    def cache_write(attr, before, now):
        """A class attribute the standard library or a package writes as a cache (pickling adds
        `__slotnames__` through copyreg): plain data before (or absent) and after, under a harmless name."""
        return (
            attr not in behaviour_names
            and attr not in comparison_dunders
            and plain_data(now)
            and (before is None or plain_data(before))
        )

    def library_thread(thread):
        """Threads that the kernel's libraries start when needed (zmq's garbage collector for large outputs,
        multiprocessing's queue feeders, a progress bar's monitor...): their target or run() is library code."""
        target = thread.__dict__.get("_target") or thread.__dict__.get("function")  # Thread, Timer
        if target is not None:
            return not notebook_code(target)
        run = get_type_attr(type(thread), "run")
        return type(thread) is not threading.Thread and not notebook_code(run) and library_class(type(thread))

    def library_wrapper(new, old):
        """Is `new` a wrapper that the library made around `old` (functools.wraps, code inside the Python
        installation)? torch does this lazily, e.g. around Optimizer.step."""
        current = new
        for _ in range(5):
            if type(current) is not types.FunctionType or not in_python(os.path.realpath(current.__code__.co_filename)):
                return False
            current = current.__dict__.get("__wrapped__")
            if current is old:
                return True
        return False

    def notebook_threads():
        return [
            t for t in threading.enumerate() if t not in baseline_threads and t.is_alive() and not library_thread(t)
        ]

    def changes(notes):
        problems = []
        for name, module in modules.items():
            now = module_state(module)
            for attr, before in baseline_modules[name].items():
                if (name, attr) in replaceable:
                    continue
                if attr not in now:
                    problems.append(f"{name}.{attr} was deleted")
                elif not same(before, now[attr]) and not library_wrapper(now[attr][0], before[0]):
                    problems.append(f"{name}.{attr} was replaced")
        for cls, before in baseline_classes.items():
            now = dict(vars(cls))
            label = f"{cls.__module__}.{cls.__qualname__}"
            for attr in sorted(set(before) | set(now)):
                if attr not in now:
                    problems.append(f"{label}.{attr} was deleted")
                elif attr not in before:
                    if not cache_write(attr, None, now[attr]):
                        problems.append(f"{label}.{attr} was added")
                elif (
                    now[attr] is not before[attr]
                    and not library_wrapper(now[attr], before[attr])
                    and not cache_write(attr, before[attr], now[attr])
                ):
                    problems.append(f"{label}.{attr} was replaced")
        now_shell = shell_state()
        problems += [
            f"{label} changed" for label, value in baseline_shell.items() if not same(value, now_shell.get(label))
        ]
        for event, callbacks in event_callbacks().items():
            before = baseline_events.get(event, ())
            for callback in callbacks:
                if any(callback is old for old in before) or not notebook_code(callback):
                    continue
                # a callback of the notebook's own could change things around each test and undo them
                # before the next check: it is switched off (a timing or logging callback simply stops)
                try:
                    shell.events.unregister(event, callback)
                    notes.append(
                        f"a callback the notebook registered for IPython's {event} event was switched "
                        "off while the tests ran"
                    )
                except Exception:
                    problems.append(f"a callback was registered for the IPython event {event}")
        now_sys = sys_state()
        for label, value in baseline_sys.items():
            if not same(value, now_sys.get(label)):
                # where output goes changes no verdict (a test fails by raising, which the reply carries)
                (notes if label in output_streams else problems).append(f"{label} changed")
        for label, before in baseline_import_hooks.items():
            now = tuple(sys.meta_path if label.startswith("sys.meta_path") else sys.path_hooks)
            removed = [hook for hook in before if not any(hook is h for h in now)]
            added = [hook for hook in now if not any(hook is h for h in before)]
            if removed or any(
                notebook_code(hook)
                if callable(hook) and not isinstance(hook, type)
                else not library_class(hook if isinstance(hook, type) else type(hook))
                for hook in added
            ):
                problems.append(f"{label} changed")
        now_builtins = builtins_state()
        for name, before in baseline_builtins.items():
            if name not in now_builtins:
                problems.append(f"builtins.{name} was deleted")
            elif not same(before, now_builtins[name]):
                problems.append(f"builtins.{name} was replaced")
        threads = notebook_threads()
        waited = time.monotonic() + 5
        while threads and time.monotonic() < waited:  # a thread finishing its work is not a problem
            threads[0].join(timeout=max(0.0, waited - time.monotonic()))
            threads = notebook_threads()
        if threads:
            problems.append(
                f"{len(threads)} background thread(s) started by the notebook were still running when a test ran"
            )
        return problems

    class AutograderVerdict(Exception):
        """Raised by every check: the grader reads the verdict from the cell's error reply."""

    AutograderVerdict.__module__ = "builtins"  # the traceback shows a short name

    def check(nonce):
        notes = []
        if getattr(shell, "call_pdb", False):
            # `%pdb on` would open the debugger on this verdict and on every failing test; grading has no
            # keyboard, so the debugger's request for input would replace the verdict and the test's message
            shell.call_pdb = False
            notes.append("%pdb (the debugger on every error) was switched off: grading has no keyboard")
        try:
            problems = changes(notes) + object_problems()
        except Exception as error:  # the check itself was broken by the notebook's state
            problems = [f"the integrity check could not run ({type(error).__name__})"]
        problems += [what for tampering, what in audit_log if tampering]
        notes += [what for tampering, what in audit_log if not tampering]
        seen, noted = [], []
        for problem in problems:
            if problem not in seen:
                seen.append(problem)
        for note in notes:
            if note not in noted:
                noted.append(note)
        verdict = f"{nonce} tampered: " + "; ".join(seen[:12]) if seen else f"{nonce} ok"
        if noted:
            verdict += "\nnoted: " + "; ".join(noted[:12])
        raise AutograderVerdict(verdict)

    return check
