"""Process lifecycles: proc.start / proc.exit of this process, and the
multiprocessing hooks that see children being made, started and joined.

Every traced process says ``proc.start`` first and ``proc.exit`` last, exactly
once: ``exited`` guards the two ways out (atexit, ``os._exit``). A fork
child starts with both flags cleared.

multiprocessing hooks (installed when its modules are imported):

* ``BaseProcess._bootstrap`` runs in the child for every start method, so it
  is where a child introduces itself and learns its exit code; its
  proc.exit comes from the real way out after it (``os._exit`` after a fork,
  atexit after a spawn), since CPython 3.13 runs multiprocessing's exit
  handler (which joins the feeder thread and the child's own children)
  between the two.
* ``BaseProcess.start``/``join`` are traced for every caller, including
  multiprocessing's own atexit handler, which joins forgotten children.
* ``util.spawnv_passfds`` is the one door to a fresh interpreter (spawn
  children, the forkserver, the resource tracker): it gets the event fd and a
  ``-c`` prefix that loads the tracer first.
* ``spawn._fixup_main_from_path`` would run the program from a file; there is
  none, so it runs ``FORKLINE_PROGRAM`` as ``__mp_main__`` instead.
"""

import os
import sys

from . import emit, step

name = None
started = False
exited = False
exit_code = 0
_forks = 0


def say_start(pname, ppid, target=None):
    global name, started
    name = pname
    started = True
    body = b',"kind":"proc.start","name":%s,"ppid":%d' % (emit.jstr(pname), ppid)
    if target:
        body += b',"target":%s' % emit.jstr(target, emit.MAX_NAME)
    emit.emit_start(body + b"}\n")


def _i32(code):
    if not isinstance(code, int) or not -(2**31) <= code < 2**31:
        return 1 if not isinstance(code, int) else code & 0xFF
    return code


def say_exit(code):
    """This process's last event; afterwards the channel is closed."""
    global exited
    if exited:
        return
    exited = True
    from . import streams

    streams.flush_all()
    if not started and emit.held_count():
        # It never got as far as proc.start but has something to show (a
        # spawned child that failed while re-running the program).
        say_start(_current_name(), os.getppid())
    emit.close(b',"kind":"proc.exit","code":%d}\n' % _i32(code) if started else None)


def _current_name():
    mp = sys.modules.get("multiprocessing.process")
    if mp is not None:
        try:
            return mp.current_process().name
        except Exception:
            pass
    return "python"


def after_fork_child():
    global started, exited, _forks
    started = exited = False
    _forks = 0


def fork_child_name():
    """Name of a child os.fork() makes: the parent's name and -fork[N]."""
    global _forks
    _forks += 1
    return "%s-fork%s" % (name, "" if _forks == 1 else _forks)


def at_exit():
    say_exit(exit_code)


# multiprocessing.process


def patch_process(mod):
    BaseProcess = mod.BaseProcess
    orig_bootstrap = BaseProcess._bootstrap
    orig_start = BaseProcess.start
    orig_join = BaseProcess.join

    def _bootstrap(self, parent_sentinel=None):
        target = getattr(self._target, "__name__", None) if self._target is not None else None
        say_start(self.name, os.getppid(), target if isinstance(target, str) else None)
        run = self.run

        def traced_run():
            # _bootstrap catches what run raises and prints it: report it
            # first, from the raising thread, as the main program's would be.
            try:
                return run()
            except SystemExit:
                raise
            except BaseException as exc:
                from .hooks import own

                own("errors").report(exc)
                raise

        self.run = traced_run
        try:
            code = orig_bootstrap(self, parent_sentinel)
        finally:
            self.__dict__.pop("run", None)
        # proc.exit waits for the process's real end: os._exit(code) after a
        # fork (3.13 runs multiprocessing's exit handler, which joins the
        # feeder thread and children, between the two), sys.exit(code) and
        # atexit after a spawn.
        global exit_code
        exit_code = code
        return code

    def start(self):
        if step.ACTIVE:
            step.before("proc.spawn", "start " + self.name)
        orig_start(self)
        emit.emit_checked(
            b',"kind":"proc.spawn","child":%d,"name":%s}\n' % (self.pid, emit.jstr(self.name))
        )

    def join(self, timeout=None):
        popen = self._popen
        if popen is None or self._parent_pid != os.getpid():
            return orig_join(self, timeout)  # raises as CPython does
        child = popen.pid
        if step.ACTIVE:
            step.before("proc.join:begin", "join " + self.name)
        emit.emit(b',"kind":"proc.join","phase":"begin","child":%d}\n' % child)
        popen._forkline_joining = True
        try:
            orig_join(self, timeout)
        finally:
            popen._forkline_joining = False
            _join_end(child, popen.returncode)

    BaseProcess._bootstrap = _bootstrap
    BaseProcess.start = start
    BaseProcess.join = join


def _join_end(child, rc):
    if rc is None:  # a join with a timeout, the child still running
        emit.emit(b',"kind":"proc.join","phase":"end","child":%d}\n' % child)
    elif rc < 0:
        emit.emit(b',"kind":"proc.join","phase":"end","child":%d,"signal":%d}\n' % (child, -rc))
    else:
        emit.emit(b',"kind":"proc.join","phase":"end","child":%d,"code":%d}\n' % (child, rc))


def patch_popen(mod):
    """A child is also reaped outside join(): ``is_alive()``, ``exitcode``,
    and the ``_cleanup()`` that every ``start()`` and ``active_children()``
    (so multiprocessing's exit handler) runs poll it, and a poll that finds
    it gone waits for it. That moment is a join too (begin and end at once):
    without it a child that was killed, and so never said proc.exit, would
    have no end at all."""
    Popen = mod.Popen
    if "poll" not in Popen.__dict__:
        return
    orig_poll = Popen.poll

    def poll(self, flag=os.WNOHANG):
        was = self.returncode
        rc = orig_poll(self, flag)
        if was is None and rc is not None and not getattr(self, "_forkline_joining", False):
            emit.emit(b',"kind":"proc.join","phase":"begin","child":%d}\n' % self.pid)
            _join_end(self.pid, rc)
        return rc

    Popen.poll = poll


# multiprocessing.util: fresh interpreters


def helper_role(code):
    if "spawn_main" in code:
        return "spawn"
    if "forkserver" in code:
        return "forkserver"
    if "resource_tracker" in code:
        return "resource_tracker"
    return "helper"


def helper_code(role, code):
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return (
        "import sys;sys.path.insert(0,%r);sys.dont_write_bytecode=False;import forkline_trace;"
        "forkline_trace.helper(%r,%d,%d,%r,%r)" % (here, role, emit.FD, emit.ORIGIN, emit.PROGRAM, code)
    )


def patch_util(mod):
    orig = mod.spawnv_passfds

    def spawnv_passfds(path, args, passfds):
        args = list(args)
        role = None
        if "-c" in args:
            i = args.index("-c")
            if i + 1 < len(args):
                role = helper_role(args[i + 1])
                args[i + 1] = helper_code(role, args[i + 1])
                passfds = list(passfds)
                if emit.FD not in passfds:
                    passfds.append(emit.FD)
        pid = orig(path, args, passfds)
        if role in ("forkserver", "resource_tracker"):
            # A spawn child's proc.spawn comes from Process.start, with its name.
            emit.emit(b',"kind":"proc.spawn","child":%d,"name":"%s"}\n' % (pid, role.encode()))
        return pid

    mod.spawnv_passfds = spawnv_passfds


# multiprocessing.spawn: the program has no file


def program_module(modname):
    """A fresh module running the program's source, as CPython runs a script."""
    return sys.modules["forkline_trace.boot"].run_as_module(modname)


def patch_spawn(mod):
    orig = mod._fixup_main_from_path

    def _fixup_main_from_path(main_path):
        if os.path.basename(main_path) != os.path.basename(emit.PROGRAM or ""):
            return orig(main_path)
        current = sys.modules["__main__"]
        if getattr(current, "__file__", None) == emit.PROGRAM:
            return  # forked: __main__ is the program already
        # As CPython's: run it as __mp_main__ and alias it as __main__, so the
        # pickled references to __main__.f find the functions.
        mod.old_main_modules.append(current)
        main_module = program_module("__mp_main__")
        sys.modules["__main__"] = sys.modules["__mp_main__"] = main_module

    mod._fixup_main_from_path = _fixup_main_from_path
