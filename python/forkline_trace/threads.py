"""Threads: thread.spawn / thread.start / thread.exit / thread.join, for
every ``threading.Thread`` (multiprocessing's QueueFeederThread too: it is
really there, and it is what moves a Queue's data into its pipe).

The page wants a thread's spawn (said by its creator once ``start()``
returned, when the new thread's native id is known) before its start (said
by the new thread). So the new thread waits on a gate in its run path, which
begins after CPython has set ``_started`` (``start()`` waits for that, so
waiting before it would deadlock), until its creator has said thread.spawn.
"""

import sys
from _thread import allocate_lock, get_ident

from . import emit, step, streams


def patch_threading(mod):
    Thread = mod.Thread
    orig_start = Thread.start
    orig_join = Thread.join
    orig_bootstrap_inner = Thread._bootstrap_inner

    def start(self):
        if step.ACTIVE:
            step.before("thread.spawn", "start " + self.name)
        gate = allocate_lock()
        gate.acquire()
        run = self.run

        def gated_run():
            gate.acquire()  # until the creator said thread.spawn
            self._forkline_traced = True
            emit.emit(b',"kind":"thread.start","name":%s}\n' % emit.jstr(self.name))
            self.__dict__.pop("run", None)
            try:
                return run()
            except SystemExit:
                raise
            except BaseException as exc:
                from .hooks import own

                own("errors").report(exc)
                raise

        self.run = gated_run
        try:
            orig_start(self)
        except BaseException:
            self.__dict__.pop("run", None)
            gate.release()
            raise
        try:
            emit.emit(
                b',"kind":"thread.spawn","child":%d,"name":%s}\n'
                % (getattr(self, "_native_id", None) or 0, emit.jstr(self.name))
            )
        finally:
            gate.release()

    def _bootstrap_inner(self):
        try:
            orig_bootstrap_inner(self)
        finally:
            # After run() and the excepthook's traceback: the thread's last act.
            if self.__dict__.pop("_forkline_traced", False):
                streams.flush_thread()
                emit.emit(b',"kind":"thread.exit"}\n')

    def join(self, timeout=None):
        child = getattr(self, "_native_id", None)
        if child is None or self._ident == get_ident():
            return orig_join(self, timeout)  # raises as CPython does
        if step.ACTIVE:
            step.before("thread.join:begin", "join " + self.name)
        emit.emit(b',"kind":"thread.join","phase":"begin","child":%d}\n' % child)
        try:
            orig_join(self, timeout)
        finally:
            emit.emit(b',"kind":"thread.join","phase":"end","child":%d}\n' % child)

    Thread.start = start
    Thread._bootstrap_inner = _bootstrap_inner
    Thread.join = join

    # The default hook is C code that reads source lines from disk; print
    # through the traceback module instead, word for word as CPython's own
    # Python fallback for this hook does.
    default = getattr(mod, "__excepthook__", None)
    if mod.excepthook is default:

        def excepthook(args, /):
            if args.exc_type == SystemExit:
                return
            stderr = sys.stderr
            if stderr is None:
                return
            name = args.thread.name if args.thread is not None else get_ident()
            print(f"Exception in thread {name}:", file=stderr, flush=True)
            from .hooks import own

            own("errors").print_exception(args.exc_value, args.exc_traceback)
            stderr.flush()

        mod.excepthook = excepthook
