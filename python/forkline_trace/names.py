"""Which objects the program made, and what it called them.

An object (lock, queue, value, pipe) is traced only when the program itself
asked for it: walking up from the constructor past frames of multiprocessing,
threading, queue and forkline_trace, the first other frame must be the
program's, and the outermost library frame must be one of the documented
ways to create that kind of object (``multiprocessing.Lock()``,
``multiprocessing.synchronize.Lock(ctx=…)``, …). So the RLock inside a
``Value``, or the locks and pipe inside a ``Queue``, are left alone: the
program reached them through ``Value()``/``Queue()``, not ``Lock()``.

The name is the one the program assigns the result to, read from the
bytecode right after the call the creating frame is executing:
``balance = Value(...)`` gives ``balance``, ``a, b = Pipe()`` gives ``a`` and
``b``. Anything else (an argument, an element of a list) falls back to
``Kind-1``, ``Kind-2``, … counted per process.
"""

import sys

from . import emit

_LIB_PACKAGES = ("multiprocessing", "threading", "queue", "forkline_trace")
_lib_cache = {}


def _is_lib(module_name):
    lib = _lib_cache.get(module_name)
    if lib is None:
        head = (module_name or "").partition(".")[0]
        lib = _lib_cache[module_name] = head in _LIB_PACKAGES
    return lib


def user_frame(entries):
    """The program's frame that created the object whose constructor is
    running in the caller, or None. ``entries``: (module, qualname) of the
    functions through which a program creates this kind of object."""
    f = sys._getframe(1)
    outer = None
    program = emit.PROGRAM
    while f is not None:
        code = f.f_code
        if code.co_filename == program:
            break
        if not _is_lib(f.f_globals.get("__name__")):
            return None
        outer = f
        f = f.f_back
    if f is None or outer is None:
        return None
    if (outer.f_globals.get("__name__"), outer.f_code.co_qualname) not in entries:
        return None
    return f


_code_cache = {}
_CALLS = frozenset(("CALL", "CALL_KW", "CALL_FUNCTION_EX", "CALL_FUNCTION", "CALL_METHOD"))
_STORES = frozenset(("STORE_NAME", "STORE_FAST", "STORE_GLOBAL", "STORE_DEREF"))
_LOADS = frozenset(("LOAD_FAST", "LOAD_NAME", "LOAD_GLOBAL", "LOAD_DEREF", "LOAD_FAST_CHECK"))


def _instructions(code):
    ins = _code_cache.get(code)
    if ins is None:
        import dis  # only programs that create named objects pay for it

        ins = _code_cache[code] = [
            (i.offset, i.opname, i.argval) for i in dis.get_instructions(code)
        ]
    return ins


def assigned(frame):
    """The names the frame's current call result is stored to, or None."""
    try:
        ins = _instructions(frame.f_code)
    except Exception:
        return None
    lasti = frame.f_lasti
    k = 0
    n = len(ins)
    while k < n and ins[k][0] <= lasti:
        k += 1
    # 3.11 leaves f_lasti on the CALL's last cache entry; should a version
    # leave it on a PRECALL/KW_NAMES, step over the call it belongs to.
    if k and ins[k - 1][1] not in _CALLS:
        while k < n and ins[k][1] not in _CALLS:
            if ins[k][1] not in ("PRECALL", "KW_NAMES", "CACHE", "EXTENDED_ARG"):
                return None
            k += 1
        k += 1
    if k >= n:
        return None
    op, arg = ins[k][1], ins[k][2]
    if op in _LOADS and k + 1 < n and ins[k + 1][1] == "STORE_ATTR":
        return [ins[k + 1][2]]  # self.lock = Lock(): the attribute's name
    if op in _STORES:
        return [arg] if isinstance(arg, str) else None
    if op == "STORE_FAST_STORE_FAST" and isinstance(arg, tuple):
        return list(arg)
    if op == "UNPACK_SEQUENCE" and isinstance(arg, int):
        names = []
        k += 1
        while len(names) < arg and k < n:
            op, a = ins[k][1], ins[k][2]
            if op in _STORES and isinstance(a, str):
                names.append(a)
            elif op in _LOADS and k + 1 < n and ins[k + 1][1] == "STORE_ATTR":
                k += 1
                names.append(ins[k][2])
            elif op == "STORE_FAST_STORE_FAST" and isinstance(a, tuple):
                names.extend(a)
            else:
                return None
            k += 1
        return names if len(names) == arg else None
    return None


_fallback = {}


def fallback(kind):
    n = _fallback.get(kind, 0) + 1
    _fallback[kind] = n
    return "%s-%d" % (kind, n)


def name_for(frame, kind):
    names = assigned(frame)
    if names and len(names) == 1:
        return emit.clip(names[0], emit.MAX_NAME)
    return fallback(kind)


def names_for_pair(frame, kind):
    """Names of the two objects of a pair (the ends of a Pipe)."""
    names = assigned(frame)
    if names and len(names) == 2:
        return [emit.clip(x, emit.MAX_NAME) for x in names]
    if names and len(names) == 1:
        base = emit.clip(names[0], emit.MAX_NAME - 3)
        return [base + "[0]", base + "[1]"]
    base = fallback(kind)
    return [base + "a", base + "b"]
