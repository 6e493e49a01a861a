"""Uncaught exceptions: the ``exception`` event, and tracebacks printed the
way CPython prints them.

CPython's C-level printers (the default ``sys.excepthook`` and
``threading.excepthook``) read source lines from the file on disk, and the
program has none; the ``traceback`` module reads them through ``linecache``,
where the program's source is registered, so tracebacks are printed with it
(same format, including the ``^^^^`` markers).
"""

import sys

from . import emit


def program_line(tb):
    """Line of the innermost traceback entry in the program, or None."""
    line = None
    program = emit.PROGRAM
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == program and isinstance(tb.tb_lineno, int):
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def report(exc, tb=None):
    try:
        message = str(exc)
    except Exception:
        message = "<exception str() failed>"
    body = b',"kind":"exception","type":%s,"message":%s' % (
        emit.jstr(type(exc).__name__, emit.MAX_NAME),
        emit.jstr(message),
    )
    line = program_line(tb if tb is not None else exc.__traceback__)
    if line is None and isinstance(exc, SyntaxError) and exc.filename == emit.PROGRAM:
        line = exc.lineno if isinstance(exc.lineno, int) else None
    if line is not None:
        body += b',"line":%d' % line
    emit.emit_checked(body + b"}\n")


def from_program(exc):
    """The traceback from the program's first frame on: the tracer's own
    frames (which ran the program) are not part of the story."""
    tb = t = exc.__traceback__
    program = emit.PROGRAM
    while t is not None:
        if t.tb_frame.f_code.co_filename == program:
            return t
        t = t.tb_next
    if isinstance(exc, SyntaxError):
        return None  # the program never ran: CPython shows no traceback either
    return tb


def print_exception(exc, tb):
    import traceback

    traceback.print_exception(type(exc), exc, tb, file=sys.stderr)


def print_uncaught(exc, main=True):
    """What the interpreter prints for an exception that ends the program
    (``main``) or a helper's ``-c`` code, whose frames before the program's
    are multiprocessing's and stay (the traceback patch drops ours)."""
    tb = from_program(exc) if main else exc.__traceback__
    hook = sys.excepthook
    if hook is sys.__excepthook__:
        print_exception(exc, tb)
    else:
        try:
            hook(type(exc), exc, tb)
        except BaseException as err:
            print("Error in sys.excepthook:", file=sys.stderr)
            print_exception(err, err.__traceback__)
            print("\nOriginal exception was:", file=sys.stderr)
            print_exception(exc, tb)


def _ours(frame):
    return (frame.f_globals.get("__name__") or "").startswith("forkline_trace")


def patch_traceback(mod):
    """Tracebacks printed by the traceback module (our hooks, and
    multiprocessing's ``_bootstrap``) leave out the tracer's wrapper frames:
    CPython's traceback would not have them. An exception raised inside the
    tracer itself keeps them all, so a tracer bug still shows where it is."""
    for name in ("_walk_tb_with_full_positions", "walk_tb"):
        orig = getattr(mod, name, None)
        if orig is None:
            continue

        def walk(tb, _orig=orig):
            items = list(_orig(tb))
            if items and not _ours(items[-1][0]):
                items = [item for item in items if not _ours(item[0])]
            return iter(items)

        walk.__name__ = walk.__qualname__ = name
        setattr(mod, name, walk)
