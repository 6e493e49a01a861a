"""time.sleep, os.fork, os.waitpid/os.wait, os.system and os._exit.

Patched on the modules before the program runs, so ``from time import
sleep`` binds the traced one too. Each traces only calls made by the
program's own code (its frame is the caller), so multiprocessing's fork of a
child or subprocess's waitpid stay silent, except ``os._exit``, which always
ends the process and so always says proc.exit (once: ``processes.say_exit``
says it at most once per process). A poll (``WNOHANG``) or a wait for any
child says its join only once it reaped one, as begin and end together.
"""

import os
import sys
import time

from . import emit, processes, step

_real_sleep = time.sleep
_real_fork = os.fork
_real_waitpid = os.waitpid
_real_wait = os.wait
_real_system = os.system
_real_exit = os._exit

_SLEEP_END = b',"kind":"sleep","phase":"end"}\n'


def sleep(secs):
    if sys._getframe(1).f_code.co_filename != emit.PROGRAM:
        return _real_sleep(secs)
    try:
        ms = int(round(secs * 1000))
    except Exception:
        return _real_sleep(secs)  # raises as CPython does
    if ms < 0:
        return _real_sleep(secs)
    if step.ACTIVE:
        step.before("sleep", "sleep %g s" % secs)
    emit.emit(b',"kind":"sleep","phase":"begin","ms":%d}\n' % ms)
    try:
        _real_sleep(secs)
    finally:
        emit.emit(_SLEEP_END)


def fork():
    if sys._getframe(1).f_code.co_filename != emit.PROGRAM:
        return _real_fork()
    if step.ACTIVE:
        step.before("proc.spawn", "os.fork()")
    name = processes.fork_child_name()  # known on both sides of the fork
    ppid = os.getpid()
    pid = _real_fork()
    if pid == 0:
        # Before its fork.return: the child's lane must exist first.
        processes.say_start(name, ppid)
        emit.emit(b',"kind":"fork.return","value":0}\n')
    else:
        emit.emit_checked(b',"kind":"proc.spawn","child":%d,"name":%s}\n' % (pid, emit.jstr(name)))
        emit.emit(b',"kind":"fork.return","value":%d}\n' % pid)
    return pid


def _join_end(pid, status):
    if os.WIFEXITED(status):
        tail = b',"code":%d}\n' % os.WEXITSTATUS(status)
    elif os.WIFSIGNALED(status):
        tail = b',"signal":%d}\n' % os.WTERMSIG(status)
    else:
        return False  # stopped or continued: not reaped
    emit.emit(b',"kind":"proc.join","phase":"end","child":%d%s' % (pid, tail))
    return True


def waitpid(pid, options):
    if sys._getframe(1).f_code.co_filename != emit.PROGRAM:
        return _real_waitpid(pid, options)
    return _wait(pid, options, lambda: _real_waitpid(pid, options))


def wait():
    if sys._getframe(1).f_code.co_filename != emit.PROGRAM:
        return _real_wait()
    return _wait(-1, 0, _real_wait)


def _wait(pid, options, call):
    # A blocking wait for one known child is a span; a poll (WNOHANG) or a
    # wait for any child says begin and end together, once it reaped one.
    span = pid > 0 and not options & os.WNOHANG
    if span:
        emit.emit(b',"kind":"proc.join","phase":"begin","child":%d}\n' % pid)
    try:
        rpid, status = call()
    except BaseException:
        if span:
            emit.emit(b',"kind":"proc.join","phase":"end","child":%d}\n' % pid)
        raise
    if rpid > 0:
        if not span:
            if not (os.WIFEXITED(status) or os.WIFSIGNALED(status)):
                return rpid, status
            emit.emit(b',"kind":"proc.join","phase":"begin","child":%d}\n' % rpid)
        if not _join_end(rpid, status) and span:
            emit.emit(b',"kind":"proc.join","phase":"end","child":%d}\n' % rpid)
    elif span:
        emit.emit(b',"kind":"proc.join","phase":"end","child":%d}\n' % pid)
    return rpid, status


def system(command):
    """os.system as the C library runs it (``/bin/sh -c command``, the raw
    wait status back), but with the shell's stdout and stderr on a pipe whose
    lines become this process's prints: the interpreter's own fds 1 and 2 are
    /dev/null and the runner's. The shell says proc.start (name ``sh``)
    before it execs, so it has a lane; its exit shows as the caller's join."""
    if sys._getframe(1).f_code.co_filename != emit.PROGRAM:
        return _real_system(command)
    text = os.fsdecode(command) if isinstance(command, bytes) else str(command)
    c = emit.jstr(text)
    emit.emit(b',"kind":"system","phase":"begin","command":%s}\n' % c)
    parent = os.getpid()
    r, w = os.pipe()
    import warnings

    with warnings.catch_warnings():
        # 3.12+ warns about fork() in a process with threads; the C library's
        # system() starts its shell without that warning, so must we.
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = _real_fork()
    if pid == 0:
        try:
            processes.say_start("sh", parent, "os.system")
            os.dup2(w, 1)
            os.dup2(w, 2)
            os.execv("/bin/sh", ["sh", "-c", command])
        finally:
            _real_exit(127)  # as system(): the shell could not be run
    os.close(w)
    emit.emit(b',"kind":"proc.spawn","child":%d,"name":"sh"}\n' % pid)
    emit.emit(b',"kind":"proc.join","phase":"begin","child":%d}\n' % pid)
    status = _relay_until_exit(pid, r)
    if not _join_end(pid, status):
        emit.emit(b',"kind":"proc.join","phase":"end","child":%d}\n' % pid)
    emit.emit(b',"kind":"system","phase":"end","command":%s,"status":%d}\n' % (c, status))
    return status


_MAX_OUTPUT = 16 * 1024  # as the Rust runner's shell: enough for a lesson


def _relay_until_exit(pid, r):
    """Relays the shell's output line by line until the shell has exited
    (not until EOF: a command left running in the background may keep the
    pipe open, and system() does not wait for it); returns its wait status."""
    import select

    try:
        pidfd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        pidfd = None
    pending = b""
    relayed = 0
    status = None
    try:
        while True:
            fds = [r] if pidfd is None else [r, pidfd]
            ready = select.select(fds, [], [], None if pidfd is not None else 0.002)[0]
            if r in ready:
                chunk = os.read(r, 65536)
                if not chunk:
                    break
                pending += chunk
                *lines, pending = pending.split(b"\n")
                relayed = _relay(lines, relayed)
            elif status is None:
                rpid, st = _real_waitpid(pid, os.WNOHANG)
                if rpid == pid:
                    status = st
                    # What the shell wrote before it exited is in the pipe
                    # now (a command it left running may write on: not that).
                    while len(pending) < _MAX_OUTPUT and select.select([r], [], [], 0)[0]:
                        chunk = os.read(r, 65536)
                        if not chunk:
                            break
                        pending += chunk
                    break
        if pending:
            *lines, pending = pending.split(b"\n")
            relayed = _relay(lines + ([pending] if pending else []), relayed)
        if status is None:
            status = _real_waitpid(pid, 0)[1]
    finally:
        os.close(r)
        if pidfd is not None:
            os.close(pidfd)
    return status


def _relay(lines, relayed):
    for line in lines:
        if relayed >= _MAX_OUTPUT:
            break
        relayed += len(line) + 1
        emit.emit(b',"kind":"print","text":%s}\n' % emit.jstr(line.decode("utf-8", "replace")))
        if relayed >= _MAX_OUTPUT:
            emit.emit(b',"kind":"note","text":"the command wrote more output than the playground relays; the rest is dropped"}\n')
    return relayed


def _exit(n):
    try:
        if isinstance(n, int):
            processes.say_exit(n)
    finally:
        _real_exit(n)


def install():
    time.sleep = sleep
    os.fork = fork
    os.waitpid = waitpid
    os.wait = wait
    os.system = system
    os._exit = _exit
