"""forkline_trace: run a lesson program in a real CPython and report what its
processes and threads do, as forkline events (docs/events.md).

Why
    forkline draws the processes and threads of a multiprocessing lesson on a
    timeline. The events have to come from the real thing: the program runs
    unmodified in a real interpreter, with real fork/spawn/forkserver
    children, real pipes and semaphores. Nothing here simulates.

How it hooks in
    The runner execs ``python -I -S -B python/forkline_boot.py`` with the
    environment cleared except:

    ``FORKLINE_EVENT_FD``      write end of the event pipe
    ``FORKLINE_ORIGIN_NS``     the run's CLOCK_MONOTONIC origin; t = now - origin
    ``FORKLINE_PROGRAM``       the program's source text
    ``FORKLINE_PROGRAM_FILE``  its file name (``lock.py``); no such file exists
    ``FORKLINE_TRACER_DIR``    the directory holding this package
    ``PATH``, ``LANG``

    stdin and stdout are /dev/null and stderr is the runner's, so everything
    the program prints reaches the page as ``print`` events (``streams``).
    The boot script imports this package and calls ``main()``, which says
    ``proc.start`` for MainProcess, installs the hooks and runs the source as
    a fresh ``__main__`` module. Exit status: the program's SystemExit, 1
    after an uncaught exception (traceback printed as CPython would), else 0.

    The hooks wrap the API the lesson uses, not bytecode, and only the parts
    the program itself calls or creates (see ``names``): ``time.sleep``,
    ``os.fork``/``waitpid``/``system``/``_exit`` (``osfuncs``); threads
    (``threads``); multiprocessing processes and fresh interpreters
    (``processes``); Lock/RLock/Value (``sync``); queues (``queues``); Pipe
    (``pipes``), whose messages carry their ids inside a wrapper the receiver
    removes (``payload``); uncaught exceptions, in any process or thread, say
    ``exception`` and then print their traceback as CPython does, through the
    traced stderr (``errors``). multiprocessing and threading are patched
    as they are imported (``hooks``), so a program that never imports them
    does not pay for them. Every event is one ``os.write`` of one JSON line
    of at most 4096 bytes to the inherited fd (``emit``), atomic on a pipe.

    Every process is traced whatever the start method: fork children inherit
    the tracer (caches reset at fork); interpreters multiprocessing starts
    afresh come through ``multiprocessing.util.spawnv_passfds``, which passes
    them the fd and prefixes their ``-c`` code with ``helper()``. The event
    fd is made non-inheritable, so programs exec'd later never hold it.

    ``os.system`` runs its shell as the C library does, but on a pipe: the
    shell's output becomes prints and the shell (``sh``) has a lane, as in
    the Rust runner's system demo.

    The tracer's own modules keep their bytecode in ``__pycache__`` (git
    ignores it) although the interpreter runs with ``-B``: compiling them
    cost every traced process about 7 ms here. ``-B`` still holds for the
    program and the standard library.

What it does not see
    * Anything below the API: bytecode, the GIL, page faults, the kernel's
      scheduling (the runner's kernel sampler covers that).
    * Objects the program did not create itself: the RLock inside a Value,
      the locks and pipe inside a Queue, a Value's ``get_lock()``, Pool and
      Manager internals. Their processes and threads are traced.
    * ``multiprocessing`` Semaphore/Condition/Event/Barrier/Array,
      ``queue.SimpleQueue``, ``Connection.recv_bytes_into``/``poll``,
      ``subprocess``, ``os.posix_spawn``, ``os.exec*``; ``time.sleep`` and
      ``os.fork`` called by library code rather than by the program.
    * The programs a shell from ``os.system`` starts (the runner's sampler
      gives them lanes); the shell itself cannot say ``proc.exit`` once it
      has exec'd, so its end is its parent's ``proc.join``.
    * A process killed by a signal says nothing more; its parent's join does.
    * Writes to file descriptors 1 and 2 below ``sys.stdout``/``stderr``
      (``os.write(1, …)``, C extensions, ``subprocess`` children): they go to
      /dev/null and the runner's stderr.
"""


def main():
    """The lesson's interpreter: trace it and run the program."""
    from .boot import main as run

    run()


def helper(role, fd, origin, program, code):
    """A fresh interpreter multiprocessing started: trace it, run its code."""
    from .boot import helper as run

    run(role, fd, origin, program, code)
