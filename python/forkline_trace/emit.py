"""The event channel: every event is one JSON line, written with one
``os.write`` to the inherited event fd.

A pipe write of at most PIPE_BUF (4096) bytes is atomic, so lines from any
number of processes and threads never interleave; that is why a line is never
split and never longer than ``MAX_LINE``.

The hot path is ``emit(body)``: ``body`` is the precomputed tail of the line
(``,"kind":...}\\n``) and the head is ``{"t":…,"pid":…,"tid":…,"cpu":…``
built from a per-thread prefix. Nothing here allocates a dict or calls
``json``: one bytes ``%`` format and one write.

The events a program emits in tight loops (``value`` reads and writes, a
lock's ``wait``: the lesson's ``lock`` program makes five events per update,
a microsecond apart) go through ``emit_hot`` instead, which keeps them in the thread's batch and writes the
batch as one write of at most PIPE_BUF bytes, still whole lines, so still
atomic: when it is nearly full, when it is older than ``BATCH_AGE``, before
any other event of the thread (so a thread's events stay in order), before
the thread blocks on a lock (``flush``), before a fork, and at exit. Two
processes writing a pipe at once queue on the pipe's lock; batching is what
keeps that from doubling the cost of every update. The lines keep the time
they were emitted at, and the runner puts the pipe's lines back in that
order (crates/runner/src/start/cpython.rs), so a batch written late lands where it
belongs.

Until a process has said ``proc.start`` (a fork child between ``fork()`` and
its ``_bootstrap``, a spawned child while it re-runs the program's top level)
its lines are held and written right after its ``proc.start``, so that no
lane ever begins with an event from a process the page has not met yet.
"""

import os
import _thread
from itertools import count
from time import monotonic_ns

from _json import encode_basestring as _json_str

MAX_LINE = 4096
MAX_TEXT = 512  # as the server's clip_text
MAX_NAME = 128  # names of locks, queues, values, pipe ends, targets: keeps lines < MAX_LINE

FD = -1
ORIGIN = 0
PROGRAM = None  # co_filename of the lesson program: "user code" is code from it

BATCH_BYTES = 3584  # a batch plus one more line stays under PIPE_BUF
BATCH_AGE = 2_000_000  # ns: a batch older than this goes out with the next line

_write = os.write
_loc = _thread._local()  # .pre: this thread's ',"pid":P,"tid":T,"cpu":'; .batch: its lines not yet written
_batches = []  # every thread's batch, for flush_all()
_held = None  # list of lines while this process has not said proc.start
_msg_base = 0
_msg_counter = count(1)  # next() on it is atomic: threads may share it


def _make_getcpu():
    # _ctypes instead of ctypes: the ctypes package costs ~2 ms to import and
    # every run pays it; this is the same foreign call in 0.15 µs.
    try:
        import _ctypes

        class c_int(_ctypes._SimpleCData):
            _type_ = "i"

        class CFunc(_ctypes.CFuncPtr):
            _flags_ = _ctypes.FUNCFLAG_CDECL
            _restype_ = c_int

        class Libc:
            _handle = _ctypes.dlopen(None, 2)  # RTLD_NOW; None: this process

        fn = CFunc(("sched_getcpu", Libc))
        fn()
        return fn
    except Exception:
        return lambda: -1


cpu = _make_getcpu()


def open_channel(fd, origin, program):
    global FD, ORIGIN, PROGRAM, _msg_base
    FD = fd
    ORIGIN = origin
    PROGRAM = program
    _msg_base = os.getpid() << 20
    try:
        # Programs started by os.system/subprocess must not hold the pipe open
        # (the run ends at its EOF); fork children still inherit it and
        # spawnv_passfds passes it on explicitly.
        os.set_inheritable(fd, False)
    except OSError:
        pass


def _prefix():
    pre = b',"pid":%d,"tid":%d,"cpu":' % (os.getpid(), _thread.get_native_id())
    _loc.pre = pre
    # [bytes in it, t of its first line, line, line, ...]
    batch = [0, 0]
    _loc.batch = batch
    _batches.append(batch)
    return pre


def _send(data):
    try:
        _write(FD, data)
    except OSError:
        pass  # reader gone or fd closed by the program: nothing to report to


def _drain(batch):
    """Writes a batch's lines (at most BATCH_BYTES + one line: one write) and
    empties it. Lines another thread adds meanwhile stay for the next time."""
    lines = batch[2:]
    if lines:
        del batch[2 : 2 + len(lines)]
        batch[0] = 0
        data = b"".join(lines)
        if len(data) <= MAX_LINE:
            _send(data)
        else:
            for line in lines:
                _send(line)


def emit(body):
    """Writes one event now (after whatever this thread has batched)."""
    try:
        pre = _loc.pre
    except AttributeError:
        pre = _prefix()
    t = monotonic_ns() - ORIGIN
    line = b'{"t":%d%s%d%s' % (t if t > 0 else 0, pre, cpu(), body)
    if _held is not None:
        _held.append(line)
        return
    batch = _loc.batch
    if len(batch) > 2:
        batch.append(line)
        _drain(batch)
    else:
        _send(line)


def emit_hot(body):
    """An event of a tight loop: into this thread's batch (see above)."""
    try:
        pre = _loc.pre
    except AttributeError:
        pre = _prefix()
    t = monotonic_ns() - ORIGIN
    line = b'{"t":%d%s%d%s' % (t if t > 0 else 0, pre, cpu(), body)
    if _held is not None:
        _held.append(line)
        return
    batch = _loc.batch
    if len(batch) == 2:
        batch[1] = t
    batch.append(line)
    size = batch[0] + len(line)
    batch[0] = size
    if size > BATCH_BYTES or t - batch[1] > BATCH_AGE:
        _drain(batch)


def emit_int(head, n):
    """A hot event whose ``head`` ends with ``"field":`` and whose line ends with ``n}``."""
    emit_hot(b"%s%d}\n" % (head, n))


def flush():
    """Writes this thread's batch now: it is about to wait for something."""
    try:
        batch = _loc.batch
    except AttributeError:
        return
    if len(batch) > 2 and _held is None:
        _drain(batch)


def flush_all():
    """Writes every thread's batch: before a fork, and at exit."""
    if _held is None:
        for batch in list(_batches):
            _drain(batch)


def emit_checked(body):
    """For bodies built from data of unknown size: never write a line the
    pipe could split (or the server would reject)."""
    if len(body) + 96 > MAX_LINE:  # 96 > the longest head
        body = b',"kind":"note","text":"forkline: an event of %d bytes was dropped (lines are at most 4096)"}\n' % len(body)
    emit(body)


def emit_start(body):
    """Writes this process's proc.start, then whatever it emitted before."""
    global _held
    held, _held = _held, None
    if not held:
        emit(body)
        return
    try:
        pre = _loc.pre
    except AttributeError:
        pre = _prefix()
    # The lane begins with the first thing the process did.
    first = held[0]
    t = int(first[5:first.index(b",", 5)])
    line = b'{"t":%d%s%d%s' % (t, pre, cpu(), body)
    for chunk in [line] + held:
        try:
            _write(FD, chunk)
        except OSError:
            pass


def held_count():
    return len(_held) if _held else 0


def hold():
    global _held
    if _held is None:
        _held = []


def close(last=None):
    """After proc.exit (``last``, a body) this process says nothing more:
    daemon threads and finalizers still running are cut off, and the pipe's
    write end is released so the reader sees EOF as soon as the last
    process is done. The fd is pointed at /dev/null *before* the last line
    goes out through a private copy: a thread that runs while that write
    holds no GIL can no longer land a line after it."""
    global _held
    flush_all()
    _held = None
    line = None
    if last is not None:
        try:
            pre = _loc.pre
        except AttributeError:
            pre = _prefix()
        t = monotonic_ns() - ORIGIN
        line = b'{"t":%d%s%d%s' % (t if t > 0 else 0, pre, cpu(), last)
    try:
        private = os.dup(FD) if line is not None else -1
    except OSError:
        private = -1
    try:
        null = os.open(os.devnull, os.O_WRONLY | os.O_CLOEXEC)
        os.dup2(null, FD, inheritable=False)
        os.close(null)
    except OSError:
        pass
    if private >= 0:
        try:
            _write(private, line)
        except OSError:
            pass
        os.close(private)


def after_fork_child():
    global _held, _msg_base, _batches
    try:
        del _loc.pre  # only the forking thread survives: this resets all
        del _loc.batch
    except AttributeError:
        pass
    # The parent's batches were written before the fork (flush_all) or are
    # the parent's to write: none of them is this process's.
    _batches = []
    _held = []
    _msg_base = os.getpid() << 20


def msg_id():
    """Unique per run: the pid in the high bits, a per-process count below."""
    return _msg_base | (next(_msg_counter) & 0xFFFFF)


def clip(text, limit=MAX_TEXT):
    """At most ``limit`` UTF-8 bytes, cut on a character boundary and marked
    with ``...`` (the server's clip_text)."""
    if len(text) * 4 <= limit:
        return text
    raw = text.encode("utf-8", "replace")
    if len(raw) <= limit:
        return text
    return raw[: limit - 3].decode("utf-8", "ignore") + "..."


def jstr(text, limit=MAX_TEXT):
    """``text`` clipped, as a JSON string literal in UTF-8 bytes ('replace'
    turns lone surrogates, which JSON cannot carry, into '?')."""
    return _json_str(clip(text, limit)).encode("utf-8", "replace")
