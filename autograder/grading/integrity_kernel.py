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
    """Record the baseline; return check(nonce). settings: {"protected": [folder, ...]} (absolute paths)."""
    import builtins
    import importlib
    import os
    import sys
    import threading
    import types

    shell = get_ipython()  # noqa: F821  (the IPython kernel provides it)
    watched_names = ["math", "operator", "warnings", "functools", "numpy", "numpy.testing", "numpy.linalg",
                     "torch", "torch.nn", "torch.nn.functional", "torch.testing", "torch.linalg", "torch.optim",
                     "torch.autograd"]
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
        watched_classes += [torch.Tensor, nn.Module, nn.Linear, nn.Embedding, nn.Sequential, nn.Parameter,
                            nn.ReLU, nn.Sigmoid, torch.optim.Optimizer, torch.optim.Adam, torch.optim.SGD]
    if "warnings" in modules:
        watched_classes.append(modules["warnings"].catch_warnings)

    suspicious_dunders = ("__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__", "__bool__", "__len__",
                          "__float__", "__int__", "__index__", "__abs__", "__round__", "__instancecheck__",
                          "__subclasscheck__", "__torch_function__", "__torch_dispatch__",
                          "__array_function__", "__array_ufunc__", "__array__", "__getattribute__")
    shell_methods = ("run_cell", "run_cell_async", "_run_cell", "run_ast_nodes", "run_code", "transform_cell",
                     "transform_ast", "showtraceback", "_showtraceback", "showsyntaxerror", "should_run_async",
                     "run_line_magic", "run_cell_magic", "ex", "ev", "push", "get_exception_only")
    allowed_hook_modules = ("matplotlib", "matplotlib_inline", "IPython", "ipykernel")
    library_modules = ("zmq", "ipykernel", "IPython", "jupyter_client", "tornado", "asyncio", "concurrent",
                       "multiprocessing", "matplotlib", "torch", "numpy", "queue")
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
        return {name: fingerprint(value) for name, value in list(vars(module).items())
                if callable(value) or isinstance(value, type)}

    def shell_state():
        state = {}
        for name in shell_methods:
            state["InteractiveShell." + name] = (getattr(type(shell), name, None), vars(shell).get(name))
        manager = shell.input_transformer_manager
        state["IPython input transformers"] = (manager, tuple(shell.input_transformers_cleanup),
                                               tuple(shell.input_transformers_post),
                                               tuple(getattr(manager, "cleanup_transforms", ())),
                                               tuple(getattr(manager, "line_transforms", ())),
                                               tuple(getattr(manager, "token_transformers", ())))
        state["IPython AST transformers"] = tuple(shell.ast_transformers)
        prefilter = shell.prefilter_manager
        state["IPython prefilters"] = (prefilter, tuple(prefilter.transformers), tuple(prefilter.checkers),
                                       tuple(prefilter.handlers.values()))
        state["IPython compiler"] = (shell.compile, type(shell.compile), getattr(shell.compile, "flags", None),
                                     vars(type(shell.compile)).get("__call__"),
                                     vars(shell.compile).get("ast_parse"))
        state["IPython exception handling"] = (shell.custom_exceptions, shell.CustomTB, shell.InteractiveTB,
                                               shell.SyntaxTB, vars(shell).get("showtraceback"))
        state["IPython display hooks"] = (shell.displayhook, shell.display_pub, shell.display_formatter)
        state["IPython async runner"] = (shell.loop_runner, shell.autoawait)
        kernel = getattr(shell, "kernel", None)
        if kernel is not None:
            session = kernel.session
            state["the kernel's execute path"] = (
                kernel, getattr(type(kernel), "do_execute", None), vars(kernel).get("do_execute"),
                getattr(type(kernel), "execute_request", None), vars(kernel).get("execute_request"),
                tuple(kernel.shell_handlers.items()) if hasattr(kernel, "shell_handlers") else (),
                session, getattr(type(session), "send", None), vars(session).get("send"))
        return state

    def event_callbacks():
        return {name: tuple(callbacks) for name, callbacks in shell.events.callbacks.items()}

    def sys_state():
        return {
            "sys.settrace": sys.gettrace(), "sys.setprofile": sys.getprofile(),
            "threading.settrace": getattr(threading, "_trace_hook", None),
            "threading.setprofile": getattr(threading, "_profile_hook", None),
            "sys.excepthook": sys.excepthook, "sys.displayhook": sys.displayhook,
            "sys.breakpointhook": sys.breakpointhook,
            "sys.meta_path (import hooks)": tuple(sys.meta_path), "sys.path_hooks": tuple(sys.path_hooks),
            "sys.stdout": sys.stdout, "sys.stderr": sys.stderr,
            # IPython wraps sys.stdout.write afresh at every cell (its "tee"); the class must stay the same
            "the type of sys.stdout": (type(sys.stdout), getattr(type(sys.stdout), "write", None)),
            "sys.modules": tuple((name, sys.modules.get(name)) for name in list(modules) + ["builtins", "sys"]),
        }

    def builtins_state():
        # ipykernel swaps input() at every execution to forward it to the front end
        return {name: fingerprint(value) for name, value in vars(builtins).items()
                if name not in ("_", "__", "___", "input", "raw_input")}

    baseline_modules = {name: module_state(module) for name, module in modules.items()}
    baseline_classes = {cls: dict(vars(cls)) for cls in watched_classes}
    baseline_shell = shell_state()
    baseline_events = event_callbacks()
    baseline_sys = sys_state()
    baseline_builtins = builtins_state()
    baseline_threads = set(threading.enumerate())
    audit_log = []

    def outside_start_dir(path):
        return not (path == start_dir or path.startswith(start_dir + os.sep))

    def in_python(path):
        return any(path == home or path.startswith(home + os.sep) for home in python_home)

    def secret_path(path):
        """Is `path` (absolute, resolved) part of the grading setup rather than the student's folder?"""
        if in_python(path):
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

    def audit(event, args):
        if len(audit_log) >= 20:
            return
        try:
            if event == "open":
                path = args[0]
                if isinstance(path, (str, bytes, os.PathLike)):
                    real = os.path.realpath(os.fsdecode(path))
                    if secret_path(real) or other_process(real):
                        audit_log.append(f"opened {shown(real)} outside its own folder")
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
                    elif parents or any(real == p or real.startswith(p + os.sep) for p in protected) and outside_start_dir(real):
                        audit_log.append(f"listed the folder {real if parents else shown(real)} outside its own folder")
            elif event in ("subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "pty.spawn"):
                program = args[0] if args else "?"
                if isinstance(program, (list, tuple)):
                    program = program[0] if program else "?"
                audit_log.append(f"started the program {os.path.basename(os.fsdecode(program)) if isinstance(program, (str, bytes)) else program}")
            elif event == "sqlite3.connect":
                if args and args[0] not in (":memory:", b":memory:", ""):
                    audit_log.append(f"opened the database {shown(os.fsdecode(args[0]))}")
            elif event in ("socket.connect", "socket.bind"):
                audit_log.append("opened a network connection")
            elif event in ("ctypes.dlopen", "ctypes.string_at", "ctypes.wstring_at", "ctypes.addressof"):
                audit_log.append("used ctypes to reach raw memory or libraries")
        except Exception:
            pass

    sys.addaudithook(audit)

    def suspicious_class(cls):
        """Why objects of `cls` (defined in the notebook) could fool a test, or None."""
        try:
            mro = get_type_attr(cls, "__mro__")
        except Exception:
            return None
        for klass in mro:
            try:
                if get_type_attr(klass, "__module__") != "__main__":
                    continue
                own = get_type_attr(klass, "__dict__")
            except Exception:
                continue
            overridden = [name for name in suspicious_dunders if name in own]
            if overridden:
                return f"class {get_type_attr(klass, '__name__')} defined in the notebook overrides {', '.join(overridden)}"
        if get_type_attr(cls, "__module__") == "__main__":
            for base, label in ((getattr(torch, "Tensor", None), "torch.Tensor"), (getattr(numpy, "ndarray", None), "numpy.ndarray")):
                if base is not None and issubclass(cls, base):
                    return f"class {get_type_attr(cls, '__name__')} defined in the notebook subclasses {label}"
        return None

    def object_problems():
        problems = []
        hidden = getattr(shell, "user_ns_hidden", {})
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
                cls = item if issubclass(kind, type) else kind
                reason = suspicious_class(cls)
                if reason:
                    problems.append(f"variable `{name}`: {reason}")
                    break
        return problems

    def same(a, b):
        if type(a) is tuple and type(b) is tuple:
            return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
        if type(a) is types.MethodType and type(b) is types.MethodType:  # bound methods are made afresh
            return a.__func__ is b.__func__ and a.__self__ is b.__self__
        return a is b or (type(a) in (int, float, str, bool) and type(a) is type(b) and a == b)

    def library_thread(thread):
        """Threads that the kernel's libraries start when needed (zmq's garbage collector for large outputs,
        multiprocessing's queue feeders...), told apart by the modules of their class and target."""
        target = thread.__dict__.get("_target")
        modules = [type(thread).__module__] + ([getattr(target, "__module__", None)] if target is not None else [])
        return all(isinstance(m, str) and (m.startswith(library_modules) or m == "threading") for m in modules) \
            and (type(thread).__module__ != "threading" or target is not None)

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

    def changes():
        problems = []
        for name, module in modules.items():
            now = module_state(module)
            for attr, before in baseline_modules[name].items():
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
                    problems.append(f"{label}.{attr} was added")
                elif now[attr] is not before[attr] and not library_wrapper(now[attr], before[attr]):
                    problems.append(f"{label}.{attr} was replaced")
        now_shell = shell_state()
        problems += [f"{label} changed" for label, value in baseline_shell.items() if not same(value, now_shell.get(label))]
        for event, callbacks in event_callbacks().items():
            before = baseline_events.get(event, ())
            for callback in callbacks:
                if any(callback is old for old in before):
                    continue
                module = getattr(callback, "__module__", None) or ""
                if not module.startswith(allowed_hook_modules):
                    problems.append(f"a callback was registered for the IPython event {event}")
        now_sys = sys_state()
        problems += [f"{label} changed" for label, value in baseline_sys.items() if not same(value, now_sys.get(label))]
        now_builtins = builtins_state()
        for name, before in baseline_builtins.items():
            if name not in now_builtins:
                problems.append(f"builtins.{name} was deleted")
            elif not same(before, now_builtins[name]):
                problems.append(f"builtins.{name} was replaced")
        threads = [t for t in threading.enumerate()
                   if t not in baseline_threads and t.is_alive() and not library_thread(t)]
        if threads:
            problems.append(f"{len(threads)} background thread(s) started by the notebook are running")
        return problems

    class AutograderVerdict(Exception):
        """Raised by every check: the grader reads the verdict from the cell's error reply."""

    AutograderVerdict.__module__ = "builtins"  # the traceback shows a short name

    def check(nonce):
        try:
            problems = changes() + object_problems()
        except Exception as error:  # the check itself was broken by the notebook's state
            problems = [f"the integrity check could not run ({type(error).__name__})"]
        problems += [event for event in audit_log if event not in problems]
        seen = []
        for problem in problems:
            if problem not in seen:
                seen.append(problem)
        if seen:
            raise AutograderVerdict(f"{nonce} tampered: " + "; ".join(seen[:12]))
        raise AutograderVerdict(f"{nonce} ok")

    return check
