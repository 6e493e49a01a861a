"""Patches applied when the patched module is imported, not before.

Importing multiprocessing (~30 ms here) or threading up front would make
every run pay for what only some programs use. A finder at the head of
``sys.meta_path`` lets the normal finders locate each listed module and
wraps the loader's ``exec_module``, so the patch runs right after the
module's own code, before anyone can bind its names (``from multiprocessing
import Lock`` already sees patched classes). Modules imported before the
tracer (site may import threading) are patched on the spot.
"""

import sys

from . import emit

# module -> (forkline_trace submodule, function taking the module)
PATCHES = {
    "threading": ("threads", "patch_threading"),
    "multiprocessing.process": ("processes", "patch_process"),
    "multiprocessing.util": ("processes", "patch_util"),
    "multiprocessing.popen_fork": ("processes", "patch_popen"),
    "multiprocessing.popen_forkserver": ("processes", "patch_popen"),
    "multiprocessing.spawn": ("processes", "patch_spawn"),
    "multiprocessing.synchronize": ("sync", "patch_synchronize"),
    "multiprocessing.sharedctypes": ("sync", "patch_sharedctypes"),
    "multiprocessing.queues": ("queues", "patch_mp_queues"),
    "multiprocessing.connection": ("pipes", "patch_connection"),
    "queue": ("queues", "patch_queue"),
    "linecache": ("boot", "register_source"),
    "traceback": ("errors", "patch_traceback"),
}

_done = set()


def own(sub):
    """forkline_trace.<sub>, imported on first use. Only our own module
    compiles here, so it may keep its bytecode although -B is in force."""
    full = "forkline_trace." + sub
    module = sys.modules.get(full)
    if module is None:
        was, sys.dont_write_bytecode = sys.dont_write_bytecode, False
        try:
            __import__(full)
        finally:
            sys.dont_write_bytecode = was
        module = sys.modules[full]
    return module


def _apply(name, module):
    if name in _done:
        return
    _done.add(name)
    sub, fn = PATCHES[name]
    try:
        getattr(own(sub), fn)(module)
    except Exception as exc:
        # Better a run without these events than a program that cannot import.
        emit.emit_checked(
            b',"kind":"note","text":%s}\n'
            % emit.jstr("forkline: %s is not traced (%s: %s)" % (name, type(exc).__name__, exc))
        )


class _Loader:
    """Stands in for a loader that is shared (a class): wrapping its
    exec_module in place would patch every module it loads."""

    def __init__(self, loader, name):
        self._loader = loader
        self._name = name

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        self._loader.exec_module(module)
        _apply(self._name, module)

    def __getattr__(self, attr):
        return getattr(self._loader, attr)


class Finder:
    def find_spec(self, name, path=None, target=None):
        if name not in PATCHES or name in _done:
            return None
        for finder in sys.meta_path:
            if finder is self:
                continue
            find = getattr(finder, "find_spec", None)
            if find is None:
                continue
            spec = find(name, path, target)
            if spec is not None:
                break
        else:
            return None
        loader = spec.loader
        if loader is None or not hasattr(loader, "exec_module"):
            return spec
        if isinstance(loader, type):
            spec.loader = _Loader(loader, name)
        else:
            orig = loader.exec_module

            def exec_module(module):
                orig(module)
                _apply(name, module)

            loader.exec_module = exec_module
        return spec


def install():
    sys.meta_path.insert(0, Finder())
    for name in PATCHES:
        module = sys.modules.get(name)
        if module is not None:
            _apply(name, module)
