"""Queues made by the program: multiprocessing's Queue, JoinableQueue and
SimpleQueue, and queue.Queue (and its Lifo/Priority subclasses) for threads.

A put wraps the object in ``payload.Tagged(msg, obj)`` and says ``put``; a
get unwraps it and says ``get`` with the same msg id, so the page can draw
each message from its producer to its consumer even across processes.
``empty()``, ``qsize()`` and blocking behave exactly as without the tracer
(one item is still one item). What the tracer does not hide: a program that
looks inside ``queue.Queue().queue`` sees the Tagged wrappers, and the bytes
in a multiprocessing Queue's pipe are a few dozen longer per message.

A multiprocessing put says ``put`` when ``put()`` returns, as CPython's does,
before the feeder thread has written the message to the pipe.
"""

from . import emit, names, step
from .payload import Tagged, value_json

_NAME_TAG = "forkline_trace.name"

_MP_ENTRIES = {
    ("multiprocessing.context", "BaseContext.Queue"),
    ("multiprocessing.context", "BaseContext.JoinableQueue"),
    ("multiprocessing.context", "BaseContext.SimpleQueue"),
    ("multiprocessing.queues", "JoinableQueue.__init__"),
}


def _name(q, name):
    n = emit.jstr(name, emit.MAX_NAME)
    q._forkline_name = name
    q._forkline_put = b',"kind":"queue","op":"put","queue":%s,"msg":' % n
    q._forkline_get = b',"kind":"queue","op":"get","queue":%s,"msg":' % n


def _defaults(cls):
    cls._forkline_name = None
    cls._forkline_put = None
    cls._forkline_get = None


def _wrap_init(cls, entries, kind=None):
    orig = cls.__init__

    def __init__(self, *args, **kwargs):
        orig(self, *args, **kwargs)
        if self._forkline_name is None:  # JoinableQueue: not twice
            f = names.user_frame(entries)
            if f is not None:
                _name(self, names.name_for(f, kind or type(self).__name__))

    cls.__init__ = __init__
    entries.add((__name__, __init__.__code__.co_qualname))


def _event(head, msg, obj):
    emit.emit_checked(b'%s%d,"value":%s}\n' % (head, msg, value_json(obj)))


def _wrap_put(cls):
    orig = cls.put

    def put(self, obj, *args, **kwargs):
        head = self._forkline_put
        if head is None:
            return orig(self, obj, *args, **kwargs)
        if step.ACTIVE:
            step.before("queue:put", "put %s in %s" % (value_json(obj).decode(errors="replace")[:80], self._forkline_name))
        msg = emit.msg_id()
        orig(self, Tagged(msg, obj), *args, **kwargs)
        _event(head, msg, obj)

    cls.put = put


def _wrap_get(cls):
    orig = cls.get

    def get(self, *args, **kwargs):
        if step.ACTIVE and self._forkline_get is not None:
            step.before("queue:get", "get from " + self._forkline_name)
        item = orig(self, *args, **kwargs)
        if type(item) is Tagged:
            msg, item = item.msg, item.obj
        else:
            msg = 0
        head = self._forkline_get
        if head is not None:
            _event(head, msg, item)
        return item

    cls.get = get


def _wrap_state(cls):
    orig_get, orig_set = cls.__getstate__, cls.__setstate__

    def __getstate__(self):
        state = orig_get(self)
        if self._forkline_name is not None:
            state = tuple(state) + ((_NAME_TAG, self._forkline_name),)
        return state

    def __setstate__(self, state):
        last = state[-1] if state else None
        name = None
        if type(last) is tuple and len(last) == 2 and last[0] == _NAME_TAG:
            name = last[1]
            state = state[:-1]
        orig_set(self, state)
        if name is not None:
            _name(self, name)

    cls.__getstate__ = __getstate__
    cls.__setstate__ = __setstate__


def patch_mp_queues(mod):
    entries = set(_MP_ENTRIES)
    for cls in (mod.Queue, mod.SimpleQueue):
        _defaults(cls)
        _wrap_init(cls, entries)
        _wrap_get(cls)
        _wrap_state(cls)
    for cls in (mod.Queue, mod.JoinableQueue, mod.SimpleQueue):
        _wrap_put(cls)


def patch_queue(mod):
    entries = set()
    _defaults(mod.Queue)
    _wrap_init(mod.Queue, entries, "Queue")
    _wrap_put(mod.Queue)
    _wrap_get(mod.Queue)
