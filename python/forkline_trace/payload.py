"""What a queue or pipe message carries: the tag that pairs a put with its
get (a send with its recv) across processes, and the JSON shown for it.

``Tagged`` travels inside the real pickle, so the receiving process learns the
message id without any side channel; the receiving wrapper unwraps it, so the
program only ever sees its own objects.
"""

from _json import encode_basestring as _json_str

from . import emit

LIMIT = 300  # bytes of JSON per payload: a few hundred, as docs/events.md says
_INF = float("inf")


class Tagged:
    __slots__ = ("msg", "obj")

    def __init__(self, msg, obj):
        self.msg = msg
        self.obj = obj

    def __reduce__(self):
        return (Tagged, (self.msg, self.obj))

    # A queue.PriorityQueue orders its items: order them by what they carry.
    def __lt__(self, other):
        return self.obj < (other.obj if type(other) is Tagged else other)

    def __repr__(self):
        return "Tagged(%r, %r)" % (self.msg, self.obj)


def unwrap(item):
    """(msg id, object); 0 for an object that was put without a tag."""
    if type(item) is Tagged:
        return item.msg, item.obj
    return 0, item


class _NotJSON(Exception):
    pass


def _enc(obj, out, room, depth):
    """Appends obj's compact JSON to out; returns the room left (< 0: too long)."""
    t = type(obj)
    if t is str:
        s = _json_str(obj)
    elif t is int:
        s = int.__repr__(obj)  # ValueError beyond 4300 digits: caught as not JSON
    elif t is bool:
        s = "true" if obj else "false"
    elif obj is None:
        s = "null"
    elif t is float:
        if obj != obj or obj == _INF or obj == -_INF:
            raise _NotJSON  # JSON has no NaN or infinity
        s = float.__repr__(obj)
    elif t is list or t is tuple:
        if depth > 16:
            raise _NotJSON
        out.append("[")
        room -= 2
        first = True
        for x in obj:
            if room < 0:
                return room
            if not first:
                out.append(",")
                room -= 1
            first = False
            room = _enc(x, out, room, depth + 1)
        out.append("]")
        return room
    elif t is dict:
        if depth > 16:
            raise _NotJSON
        out.append("{")
        room -= 2
        first = True
        for k, v in obj.items():
            if room < 0:
                return room
            kt = type(k)
            # json.dumps's key rules
            if kt is str:
                ks = k
            elif kt is bool:
                ks = "true" if k else "false"
            elif kt is int:
                ks = int.__repr__(k)
            elif k is None:
                ks = "null"
            elif kt is float and k == k and k != _INF and k != -_INF:
                ks = float.__repr__(k)
            else:
                raise _NotJSON
            if not first:
                out.append(",")
                room -= 1
            first = False
            ks = _json_str(ks)
            out.append(ks)
            out.append(":")
            room = _enc(v, out, room - len(ks) - 1, depth + 1)
        out.append("}")
        return room
    else:
        raise _NotJSON
    out.append(s)
    return room - len(s)


_repr = None


def _short_repr(obj):
    global _repr
    if type(obj) in (str, bytes):
        return repr(obj[: LIMIT + 1])  # its beginning, as repr() starts
    if _repr is None:
        # reprlib bounds the work on a huge object, not just the output
        import reprlib

        _repr = reprlib.Repr()
        _repr.maxlevel = 4
        _repr.maxlist = _repr.maxtuple = _repr.maxdict = _repr.maxset = 40
        _repr.maxfrozenset = _repr.maxdeque = _repr.maxarray = 40
        _repr.maxstring = _repr.maxother = _repr.maxlong = LIMIT
    try:
        return _repr.repr(obj)
    except Exception:
        return "<%s object>" % type(obj).__name__


def value_json(obj):
    """obj as compact JSON of at most LIMIT bytes (UTF-8), else its repr cut
    to LIMIT bytes, as a JSON string."""
    out = []
    try:
        room = _enc(obj, out, LIMIT, 0)
    except (_NotJSON, ValueError, RecursionError):
        room = -1
    if room >= 0:
        text = "".join(out).encode("utf-8", "replace")
        if len(text) <= LIMIT:
            return text
    return emit.jstr(_short_repr(obj), LIMIT)
