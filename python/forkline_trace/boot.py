"""Installation, and running the program.

``main()`` is the lesson's interpreter (``forkline_boot.py``); ``helper()``
is every interpreter multiprocessing starts afresh (spawn children, the
forkserver, the resource tracker), reached through the ``-c`` prefix that
``processes.patch_util`` puts in front of their code.
"""

import builtins
import os
import sys

from . import emit, hooks, osfuncs, processes, step, streams

_HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_boot_module = None  # forkline_boot.py's module, kept alive while it runs


def program_source():
    # The main interpreter reads it once; every other process has the same
    # environment (fork keeps it, spawn inherits it).
    return os.environ.get("FORKLINE_PROGRAM")


def register_source(linecache):
    """Tracebacks, warnings and inspect read source through linecache."""
    source = program_source()
    if source is not None and emit.PROGRAM:
        linecache.cache[emit.PROGRAM] = (len(source), None, source.splitlines(True), emit.PROGRAM)


def run_as_module(modname):
    """Runs the program in a fresh module named ``modname``, as CPython runs
    a script: ``__file__`` is the program's file name, the code's filename
    too (so tracebacks name it), and the module is in sys.modules while it
    runs (so pickle finds its functions)."""
    source = program_source() or ""
    module = type(sys)(modname)
    module.__file__ = emit.PROGRAM
    module.__builtins__ = builtins
    module.__loader__ = None
    module.__spec__ = None
    module.__cached__ = None
    code = compile(source, emit.PROGRAM, "exec", dont_inherit=True)
    sys.modules[modname] = module
    exec(code, module.__dict__)
    return module


def _after_fork_child():
    emit.after_fork_child()
    processes.after_fork_child()
    streams.after_fork_child()


def _install():
    import atexit

    # forkline_boot.py (or the helper prefix) let the tracer's own imports
    # cache their bytecode; -B holds again for everything else.
    sys.dont_write_bytecode = True

    # Before multiprocessing is imported: atexit runs last-registered first,
    # so its handler (which joins forgotten children) runs before proc.exit.
    atexit.register(processes.at_exit)
    # Batched lines go out before a fork, so neither copy writes them twice
    # or after the other's.
    os.register_at_fork(before=emit.flush_all, after_in_child=_after_fork_child)
    step.install()
    osfuncs.install()
    streams.install()
    hooks.install()
    # Started without site (-S): what site would add that a program may use.
    if not hasattr(builtins, "exit"):
        import _sitebuiltins

        builtins.exit = _sitebuiltins.Quitter("exit", "Ctrl-D (i.e. EOF)")
        builtins.quit = _sitebuiltins.Quitter("quit", "Ctrl-D (i.e. EOF)")
    # The program sees the sys.path it would have had; forkline_trace's own
    # submodules load through the package's __path__.
    for entry in {_HERE, os.environ.get("FORKLINE_TRACER_DIR")}:
        while entry in sys.path:
            sys.path.remove(entry)


def _code_of(exc):
    code = exc.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    return 1


def main():
    global _boot_module
    env = os.environ
    program = env.get("FORKLINE_PROGRAM_FILE") or "program.py"
    emit.open_channel(int(env["FORKLINE_EVENT_FD"]), int(env["FORKLINE_ORIGIN_NS"]), program)
    processes.say_start("MainProcess", os.getppid())
    _install()
    sys.argv = [program]
    _boot_module = sys.modules.get("__main__")
    processes.exit_code = code = _run_program()
    # Through the interpreter's own exit: threading waits for non-daemon
    # threads, multiprocessing's atexit joins children, then proc.exit.
    sys.exit(code)


def _run_program():
    try:
        run_as_module("__main__")
    except SystemExit as exc:
        if not isinstance(exc.code, int) and exc.code is not None:
            print(exc.code, file=sys.stderr)  # as CPython prints sys.exit("msg")
        return _code_of(exc)
    except BaseException as exc:
        errors = hooks.own("errors")
        errors.report(exc)
        errors.print_uncaught(exc)
        return 1
    return 0


def helper(role, fd, origin, program, code):
    emit.open_channel(fd, origin, program)
    if role == "spawn":
        emit.hold()  # its proc.start comes from _bootstrap, with its name
    else:
        processes.say_start(role, os.getppid())
    _install()
    namespace = sys.modules["__main__"].__dict__
    try:
        exec(compile(code, "<string>", "exec", dont_inherit=True), namespace)
    except SystemExit as exc:
        processes.exit_code = _code_of(exc)
        raise
    except BaseException as exc:
        errors = hooks.own("errors")
        errors.report(exc)
        errors.print_uncaught(exc, main=False)
        processes.exit_code = 1
        sys.exit(1)
