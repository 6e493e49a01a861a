"""sys.stdout and sys.stderr as event sources: each complete line written is
one ``print`` event, emitted by the writing thread at the moment of the write.

Everything written to stdout also goes on to the interpreter's own
``sys.stdout``, a pipe the runner reads, with CPython's own buffering (block
buffered, as for any pipe or file: flushed when 8 KiB fill up, by
``flush()``, before multiprocessing forks, and at exit, and *not* before a
bare ``os.fork()``, whose child inherits what is still buffered). The runner
compares what arrived there with the print events and says so on the page
when the real stream's order or content differs. stderr belongs to the
runner (for fatal interpreter errors only), so it is not passed on. A partial line waits per stream and per thread for its newline; it is
flushed when its thread ends, or (for whatever is left) when the process
ends. ``flush()`` does not end a line: ``print(x, end="", flush=True)``
followed by more text is still one line, as on a terminal.
"""

import io
import sys
from _thread import get_ident

from . import emit, step

_streams = []


class TracedStream(io.TextIOBase):
    encoding = "utf-8"
    errors = "strict"
    newlines = None
    line_buffering = True

    def __init__(self, name, tail, real=None):
        self.name = name
        self._tail = tail  # what follows the text in the event
        self._parts = {}  # thread ident -> the line so far
        self._buffer = None
        self._real = real  # the interpreter's own stream, written through

    def writable(self):
        return True

    def isatty(self):
        return False

    def fileno(self):
        raise io.UnsupportedOperation("fileno")

    def flush(self):
        if self._real is not None:
            try:
                self._real.flush()
            except (OSError, ValueError):
                pass

    @property
    def buffer(self):
        if self._buffer is None:
            self._buffer = _Bytes(self)
        return self._buffer

    def write(self, s):
        if type(s) is not str:
            if not isinstance(s, str):
                raise TypeError("write() argument must be str, not %s" % type(s).__name__)
            s = str(s)
        real = self._real
        if real is not None:
            try:
                real.write(s)
            except (OSError, ValueError):
                self._real = None  # the program closed it: nothing more to pass on
        if s == "\n":  # print()'s end: the commonest write by far
            if step.ACTIVE:
                step.before("print", "print %r" % self._parts.get(get_ident(), ""))
            emit.emit(b',"kind":"print","text":%s%s' % (emit.jstr(self._parts.pop(get_ident(), "")), self._tail))
            return 1
        if "\n" not in s:
            if s:
                parts = self._parts
                key = get_ident()
                parts[key] = parts.get(key, "") + s
            return len(s)
        lines = s.split("\n")
        head = self._parts.pop(get_ident(), None)
        if head:
            lines[0] = head + lines[0]
        last = lines.pop()
        if last:
            self._parts[get_ident()] = last
        tail = self._tail
        for line in lines:
            emit.emit(b',"kind":"print","text":%s%s' % (emit.jstr(line), tail))
        return len(s)

    def writelines(self, lines):
        for line in lines:
            self.write(line)

    def _flush_thread(self, key):
        part = self._parts.pop(key, None)
        if part:
            emit.emit(b',"kind":"print","text":%s%s' % (emit.jstr(part), self._tail))

    def _flush_all(self):
        # Our own thread's first; other threads' (daemons still running at
        # exit) are emitted from here too, under this thread's tid.
        self._flush_thread(get_ident())
        for key in list(self._parts):
            self._flush_thread(key)


class _Bytes:
    """``sys.stdout.buffer``: bytes decoded as UTF-8 and written as text."""

    def __init__(self, stream):
        import codecs

        self._stream = stream
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")

    def write(self, b):
        text = self._decoder.decode(bytes(b))
        self._stream.write(text)
        return len(b)

    def flush(self):
        pass

    def writable(self):
        return True


def install():
    out = TracedStream("<stdout>", b"}\n", real=sys.stdout)
    err = TracedStream("<stderr>", b',"stream":"stderr"}\n')
    _streams[:] = [out, err]
    sys.stdout = out
    sys.stderr = err


def flush_thread():
    key = get_ident()
    for s in _streams:
        s._flush_thread(key)


def flush_all():
    for s in _streams:
        s._flush_all()


def after_fork_child():
    # The parent's unfinished lines stay the parent's.
    for s in _streams:
        s._parts.clear()
