"""multiprocessing.Pipe() made by the program: its two Connection ends.

``send(obj)`` wraps the object in ``payload.Tagged`` and says ``send`` with a
fresh msg id; ``recv()`` unwraps it and says ``recv`` with the same id.
``send_bytes``/``recv_bytes`` carry the program's bytes untouched (tagging
would change them), so they say only the size; a ``recv`` of raw bytes has
msg 0. A ``recv()`` whose bytes do not unpickle (two writers interleaved
their frames) says ``recv`` with ``corrupt: true`` and msg 0, then raises as
CPython does; end-of-file and other errors of the pipe itself say nothing.
``recv_bytes_into`` and ``poll`` are not traced.

An end's name survives pickling: the Connection reducer is wrapped so the
rebuilt end is named again.
"""

from . import emit, names, step
from .payload import Tagged, value_json

_ENTRIES = {("multiprocessing.context", "BaseContext.Pipe")}


def _name(conn, name):
    n = emit.jstr(name, emit.MAX_NAME)
    conn._forkline_name = name
    conn._forkline_send = b',"kind":"pipe","op":"send","end":%s,"msg":' % n
    conn._forkline_recv = b',"kind":"pipe","op":"recv","end":%s,"msg":' % n


def rebuild_named(name, func, args):
    conn = func(*args)
    _name(conn, name)
    return conn


def patch_connection(mod):
    Base = mod._ConnectionBase
    Base._forkline_name = None
    Base._forkline_send = None
    Base._forkline_recv = None
    orig_pipe = mod.Pipe
    orig_send = Base.send
    orig_send_bytes = Base.send_bytes
    orig_recv_bytes = Base.recv_bytes
    loads = mod._ForkingPickler.loads

    def Pipe(duplex=True):
        ends = orig_pipe(duplex)
        f = names.user_frame(entries)
        if f is not None:
            for conn, name in zip(ends, names.names_for_pair(f, "Pipe")):
                _name(conn, name)
        return ends

    entries = set(_ENTRIES)
    entries.add((__name__, Pipe.__code__.co_qualname))

    def send(self, obj):
        head = self._forkline_send
        if head is None:
            return orig_send(self, obj)
        if step.ACTIVE:
            step.before("pipe:send", "%s.send(%s)" % (self._forkline_name, value_json(obj).decode(errors="replace")[:80]))
        msg = emit.msg_id()
        orig_send(self, Tagged(msg, obj))
        emit.emit_checked(b'%s%d,"value":%s}\n' % (head, msg, value_json(obj)))

    def recv(self):
        # Connection.recv, spelled out so that a frame that does not unpickle
        # can be told from a pipe that failed.
        if step.ACTIVE and self._forkline_recv is not None:
            step.before("pipe:recv", self._forkline_name + ".recv()")
        self._check_closed()
        self._check_readable()
        buf = self._recv_bytes()
        try:
            item = loads(buf.getbuffer())
        except Exception:
            head = self._forkline_recv
            if head is not None:
                emit.emit(b'%s0,"bytes":%d,"corrupt":true}\n' % (head, buf.getbuffer().nbytes))
            raise
        if type(item) is Tagged:
            msg, item = item.msg, item.obj
        else:
            msg = 0
        head = self._forkline_recv
        if head is not None:
            emit.emit_checked(b'%s%d,"value":%s}\n' % (head, msg, value_json(item)))
        return item

    def send_bytes(self, buf, offset=0, size=None):
        if step.ACTIVE and self._forkline_send is not None:
            step.before("pipe:send", self._forkline_name + ".send_bytes(…)")
        orig_send_bytes(self, buf, offset, size)
        head = self._forkline_send
        if head is not None:
            if size is None:  # offset and size count bytes (CPython casts to "B")
                size = memoryview(buf).nbytes - offset
            emit.emit(b'%s%d,"bytes":%d}\n' % (head, emit.msg_id(), size))

    def recv_bytes(self, maxlength=None):
        if step.ACTIVE and self._forkline_recv is not None:
            step.before("pipe:recv", self._forkline_name + ".recv_bytes()")
        data = orig_recv_bytes(self, maxlength)
        head = self._forkline_recv
        if head is not None:
            emit.emit(b'%s0,"bytes":%d}\n' % (head, len(data)))
        return data

    mod.Pipe = Pipe
    Base.send = send
    Base.recv = recv
    Base.send_bytes = send_bytes
    Base.recv_bytes = recv_bytes

    # Name the rebuilt end in a spawned child.
    reduction = mod.reduction
    Connection = mod.Connection
    orig_reduce = reduction.ForkingPickler._extra_reducers.get(Connection)
    if orig_reduce is not None:

        def reduce_connection(conn):
            reduced = orig_reduce(conn)
            if conn._forkline_name is None:
                return reduced
            return (rebuild_named, (conn._forkline_name,) + tuple(reduced[:2]))

        reduction.register(Connection, reduce_connection)
