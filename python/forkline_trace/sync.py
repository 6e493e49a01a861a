"""multiprocessing.Lock / RLock and multiprocessing.Value made by the program.

Locks: ``SemLock._make_methods`` binds ``self.acquire``/``self.release`` to
the C semaphore as *instance* attributes (again in ``__setstate__``, after
unpickling in a spawn child), so that is where traced ones are put; ``with
lock:`` goes through the class's ``__enter__``/``__exit__``, which are made
to call them. Every acquire attempt says ``wait``; a successful one then
says ``acquire``. A non-blocking or timed acquire that fails says ``wait``
and nothing more (the next event of that lane ends the wait). ``release`` is
said just *before* the semaphore is released: said after it, another
process's ``acquire`` could reach the pipe first and the page would show two
holders at once.

Values: reads and writes of ``.value`` that are integers (the schema's value
is one). The Value's own RLock is internal and not traced (the program
reached it through ``Value()``, not ``Lock()``), nor is ``get_lock()``.

Names survive pickling (spawn, forkserver): a lock's state tuple carries it,
a Value reduces to a rebuild that names it again.
"""

from . import emit, names, step

_NAME_TAG = "forkline_trace.name"

_LOCK_ENTRIES = {
    ("multiprocessing.context", "BaseContext.Lock"),
    ("multiprocessing.context", "BaseContext.RLock"),
}
_VALUE_ENTRIES = {("multiprocessing.context", "BaseContext.Value")}


def _traced_methods(semlock, name):
    n = emit.jstr(name, emit.MAX_NAME)
    wait = b',"kind":"lock","phase":"wait","lock":%s}\n' % n
    held = b',"kind":"lock","phase":"acquire","lock":%s}\n' % n
    free = b',"kind":"lock","phase":"release","lock":%s}\n' % n
    sem_acquire = semlock.acquire
    sem_release = semlock.release
    batched = emit.emit_hot
    now = emit.emit
    flush = emit.flush

    # The wait is batched; acquire and release are written at once (with the
    # thread's batch before them), so in the pipe a lock's holders follow
    # each other in the order they held it, whatever the other processes'
    # batches do: the page never sees two holders.
    def acquire(block=True, timeout=None):
        if step.ACTIVE:
            step.before("lock:acquire", "acquire " + name)
        batched(wait)
        # Taken at once: no wait to show live. Otherwise the batch goes out
        # first, so the page sees this wait while it lasts.
        if sem_acquire(False) or (block and (flush() or sem_acquire(True, timeout))):
            now(held)
            return True
        return False

    def release():
        if step.ACTIVE:
            step.before("lock:release", "release " + name)
        now(free)
        sem_release()

    return acquire, release


def patch_synchronize(mod):
    SemLock = mod.SemLock
    SemLock._forkline_name = None
    orig_make_methods = SemLock._make_methods
    orig_getstate = SemLock.__getstate__
    orig_setstate = SemLock.__setstate__

    def _make_methods(self):
        orig_make_methods(self)
        name = self._forkline_name
        if name is not None:
            self.acquire, self.release = _traced_methods(self._semlock, name)

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *args):
        return self.release()

    def __getstate__(self):
        state = orig_getstate(self)
        if self._forkline_name is not None:
            state = tuple(state) + ((_NAME_TAG, self._forkline_name),)
        return state

    def __setstate__(self, state):
        last = state[-1] if state else None
        if type(last) is tuple and len(last) == 2 and last[0] == _NAME_TAG:
            self._forkline_name = last[1]
            state = state[:-1]
        orig_setstate(self, state)

    SemLock._make_methods = _make_methods
    SemLock.__enter__ = __enter__
    SemLock.__exit__ = __exit__
    SemLock.__getstate__ = __getstate__
    SemLock.__setstate__ = __setstate__

    def wrap_init(cls):
        orig_init = cls.__init__
        kind = cls.__name__

        def __init__(self, *args, **kwargs):
            orig_init(self, *args, **kwargs)
            f = names.user_frame(entries)
            if f is not None:
                self._forkline_name = names.name_for(f, kind)
                self._make_methods()

        cls.__init__ = __init__
        return (__name__, __init__.__code__.co_qualname)

    entries = set(_LOCK_ENTRIES)
    entries.add(("multiprocessing.synchronize", "Lock.__init__"))
    entries.add(("multiprocessing.synchronize", "RLock.__init__"))
    entries.add(wrap_init(mod.Lock))
    entries.add(wrap_init(mod.RLock))


def _name_value(v, name):
    v._forkline_name = name
    n = emit.jstr(name, emit.MAX_NAME)
    v._forkline_read = b',"kind":"value","op":"read","name":%s,"value":' % n
    v._forkline_write = b',"kind":"value","op":"write","name":%s,"value":' % n


def rebuild_value(name, func, args):
    v = func(*args)
    _name_value(v, name)
    return v


_I64_MIN = -(2**63)
_I64_MAX = 2**63 - 1


def patch_sharedctypes(mod):
    Synchronized = mod.Synchronized
    SynchronizedBase = mod.SynchronizedBase
    SynchronizedBase._forkline_name = None
    Synchronized._forkline_read = None
    Synchronized._forkline_write = None
    orig_value = mod.Value
    orig_reduce = SynchronizedBase.__reduce__
    prop = Synchronized.value
    fget, fset = prop.fget, prop.fset
    emit_int = emit.emit_int

    def Value(typecode_or_type, *args, lock=True, ctx=None):
        v = orig_value(typecode_or_type, *args, lock=lock, ctx=ctx)
        if type(v) is Synchronized:  # lock=False gives a bare ctypes object
            f = names.user_frame(entries)
            if f is not None:
                _name_value(v, names.name_for(f, "Value"))
        return v

    entries = set(_VALUE_ENTRIES)
    entries.add((__name__, Value.__code__.co_qualname))

    def value_get(self):
        if step.ACTIVE and self._forkline_read is not None:
            step.before("value:read", "read " + self._forkline_name)
        v = fget(self)
        head = self._forkline_read
        if head is not None and (type(v) is int or type(v) is bool) and _I64_MIN <= v <= _I64_MAX:
            emit_int(head, v)
        return v

    def value_set(self, value):
        if step.ACTIVE and self._forkline_write is not None:
            step.before("value:write", "write %s %r" % (self._forkline_name, value))
        fset(self, value)
        head = self._forkline_write
        if head is not None and (type(value) is int or type(value) is bool) and _I64_MIN <= value <= _I64_MAX:
            emit_int(head, value)

    def __reduce__(self):
        reduced = orig_reduce(self)
        if self._forkline_name is None:
            return reduced
        return (rebuild_value, (self._forkline_name,) + tuple(reduced[:2]))

    mod.Value = Value
    Synchronized.value = property(value_get, value_set, None, prop.__doc__)
    SynchronizedBase.__reduce__ = __reduce__
