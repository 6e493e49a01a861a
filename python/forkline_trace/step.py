"""Stepping ("You are the scheduler"): in a stepped run, each traced
operation of the program's processes and threads first says what it is about
to do (``step.pending``) and then waits at its gate until the student lets
that one thread through.

The gates are the runner's (crates/core/src/gates.rs): one page of shared
memory, a memfd the runner passes as ``FORKLINE_GATES_FD``. Slot ``i`` at
``64 + 64*i`` holds the thread's tid and ``grant``, a counter the server adds
one to per step; offset 0 is ``free``, set by "Run freely". A thread waits
with a futex on its ``grant`` word, so waiting costs no CPU and, being a
foreign call, holds no GIL: the program's other threads run on.

Python has no atomic compare-and-swap, so a slot is claimed under a lock:
a POSIX record lock on the page (between processes) and a thread lock
(between the threads of one process, which record locks do not separate).
Only the tracer claims slots in a CPython run.

Only fork children inherit the page: a spawn child's descriptors are
closed, so its operations run without waiting (it says so once).
"""

import _thread
import os
import struct
import sys

from . import emit

_LINE = 64
_SLOTS = 4096 // _LINE - 1
_FREE = 0

ACTIVE = False  # a stepped run: the traced operations call before()
_mm = None  # the mapped page
_fd = -1
_claim_lock = _thread.allocate_lock()
_loc = _thread._local()  # .key: (pid, tid) it claimed for; .slot; .used
_futex_wait = None


def install():
    """Maps the gate page when the run is stepped."""
    global ACTIVE, _mm, _fd, _futex_wait
    fd = os.environ.get("FORKLINE_GATES_FD")
    if not fd:
        return
    try:
        import ctypes
        import mmap

        _fd = int(fd)
        os.set_inheritable(_fd, False)  # not for os.system's programs; fork keeps it
        _mm = mmap.mmap(_fd, 4096, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        libc = ctypes.CDLL(None, use_errno=True)
        syscall = libc.syscall
        syscall.restype = ctypes.c_long
        sys_futex = 202 if os.uname().machine == "x86_64" else 98  # aarch64
        base = ctypes.addressof(ctypes.c_char.from_buffer(_mm))

        def futex_wait(offset, expected):
            # FUTEX_WAIT (0), not private: the waker is the server, another process.
            syscall(ctypes.c_long(sys_futex), ctypes.c_void_p(base + offset), ctypes.c_int(0),
                    ctypes.c_uint(expected), None, None, ctypes.c_int(0))

        _futex_wait = futex_wait
        ACTIVE = True
    except (OSError, ValueError, ImportError):
        _mm = None


def _u32(offset):
    return struct.unpack_from("=I", _mm, offset)[0]


def _slot():
    key = (os.getpid(), _thread.get_native_id())
    if getattr(_loc, "key", None) == key:
        return _loc.slot
    import fcntl

    tid = key[1]
    slot = None
    with _claim_lock:
        fcntl.lockf(_fd, fcntl.LOCK_EX)
        try:
            for i in range(_SLOTS):
                owner = _u32(_LINE * (i + 1))
                if owner == 0 or owner == tid:
                    struct.pack_into("=I", _mm, _LINE * (i + 1), tid)
                    slot = i
                    break
        finally:
            fcntl.lockf(_fd, fcntl.LOCK_UN)
    _loc.key, _loc.slot, _loc.used = key, slot, _u32(_LINE * (slot + 1) + 4) if slot is not None else 0
    if slot is None:
        emit.emit(b',"kind":"note","text":"this thread found no free gate, so it runs without waiting for steps"}\n')
    return slot


def _program_line():
    """The program's line that called the traced operation: the wrapper's
    caller, or its caller's (``with lock:`` goes through ``__enter__``).
    None when the program did not call it itself (multiprocessing's own
    use of a queue's thread, say): that is not the student's to step."""
    f = sys._getframe(3)  # 0: here, 1: before(), 2: the wrapper
    for _ in range(2):
        if f is None:
            return None
        if f.f_code.co_filename == emit.PROGRAM:
            return f.f_lineno
        f = f.f_back
    return None


def before(at, op):
    """Before a traced operation: in a stepped run, reports it (``at``: its
    kind as the schema names it, ``op``: in words) and waits for the go."""
    if _mm is None or _u32(_FREE):
        return
    line = _program_line()
    if line is None:
        return
    slot = _slot()
    if slot is None:
        return
    emit.flush()
    emit.emit(b',"kind":"step.pending","gate":%d,"op":%s,"at":%s,"line":%d}\n' % (slot, emit.jstr(op, emit.MAX_TEXT), emit.jstr(at), line))
    grant = _LINE * (slot + 1) + 4
    used = _loc.used
    while not _u32(_FREE):
        granted = _u32(grant)
        if granted != used:
            _loc.used = (used + 1) & 0xFFFFFFFF
            return
        _futex_wait(grant, granted)
