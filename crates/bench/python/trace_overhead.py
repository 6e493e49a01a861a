"""What forkline's tracer costs a lesson program: the same program run by the
same interpreter, untraced (`python -I -B prog.py`) and traced (through
python/forkline_boot.py exactly as the CPython engine starts it, its event
pipe drained by a thread here), alternating, each timed from spawn to exit.

    trace_overhead.py TRACER_DIR ROUNDS FILE SOURCE_PATH [FILE SOURCE_PATH ...]
    trace_overhead.py --race TRACER_DIR RUNS SOURCE_PATH   (unlocked lock program)
    trace_overhead.py --first-child RUNS METHOD             (python by hand: spawn → child start)
    trace_overhead.py --per-event TRACER_DIR ROUNDS N        (a loop of N traced reads, timed inside)

Prints one JSON object as its last line.

No waits have a timeout: subprocess's wait with one polls, with sleeps of
up to 50 ms, which would round every figure to 50 ms. forkline-bench bounds
the driver as a whole.
"""
import json
import os
import subprocess
import sys
import threading
import time

PYTHON = sys.executable


def untraced(path, capture=False):
    started = time.monotonic_ns()
    out = subprocess.run([PYTHON, "-I", "-S", "-B", path], stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    return time.monotonic_ns() - started, out.stdout


def traced(tracer_dir, file, source):
    read_end, write_end = os.pipe()
    lines = []

    def drain():
        # As the runner relays (server/runner/cpython.rs): a pause after a
        # read that emptied the pipe, so writers are not woken up for.
        chunks = []
        while True:
            chunk = os.read(read_end, 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
            if len(chunk) < 1 << 16:
                time.sleep(0.001)
        lines.extend(b"".join(chunks).split(b"\n"))

    reader = threading.Thread(target=drain)
    reader.start()
    env = {
        "FORKLINE_EVENT_FD": str(write_end),
        "FORKLINE_ORIGIN_NS": str(time.monotonic_ns()),
        "FORKLINE_PROGRAM": source,
        "FORKLINE_PROGRAM_FILE": file,
        "FORKLINE_TRACER_DIR": tracer_dir,
        "PATH": "/usr/bin:/bin",
        "LANG": "C.UTF-8",
    }
    started = time.monotonic_ns()
    child = subprocess.Popen([PYTHON, "-I", "-S", "-B", os.path.join(tracer_dir, "forkline_boot.py")],
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             env=env, pass_fds=(write_end,))
    os.close(write_end)
    child.wait()
    elapsed = time.monotonic_ns() - started
    reader.join(timeout=120)
    os.close(read_end)
    return elapsed, [json.loads(line) for line in lines if line]


def overhead(tracer_dir, rounds, programs):
    out = []
    for file, path in programs:
        with open(path) as f:
            source = f.read()
        plain, with_trace, events = [], [], 0
        for _ in range(rounds):
            plain.append(untraced(path)[0])
            ns, evs = traced(tracer_dir, file, source)
            with_trace.append(ns)
            events = len(evs)
        out.append({"file": file, "untraced_ns": plain, "traced_ns": with_trace, "events": events})
    return {"programs": out}


def race(tracer_dir, runs, path):
    with open(path) as f:
        source = f.read()
    lost_untraced = lost_traced = 0
    for _ in range(runs):
        _, stdout = untraced(path, capture=True)
        if stdout.strip() != b"200":
            lost_untraced += 1
        _, evs = traced(tracer_dir, "lock.py", source)
        printed = [e["text"] for e in evs if e.get("kind") == "print"]
        if printed != ["200"]:
            lost_traced += 1
    return {"runs": runs, "untraced_lost": lost_untraced, "traced_lost": lost_traced}


FIRST_CHILD = """
import multiprocessing, os, sys, time
def child():
    os.write(1, b"%d\\n" % time.monotonic_ns())
if __name__ == "__main__":
    multiprocessing.set_start_method(sys.argv[1])
    p = multiprocessing.Process(target=child)
    p.start()
    p.join()
"""


def first_child(runs, method):
    # A file, not -c: spawn's child imports the main module again by its path.
    import tempfile
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(FIRST_CHILD)
    samples = []
    for _ in range(runs):
        started = time.monotonic_ns()
        out = subprocess.run([PYTHON, "-I", "-S", "-B", f.name, method], stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        samples.append(int(out.stdout.split()[0]) - started)
    os.unlink(f.name)
    return {"ns": samples}


PER_EVENT = """
import multiprocessing, time
v = multiprocessing.Value('i', 0)
t = time.perf_counter_ns()
for _ in range(%d):
    v.value
print(time.perf_counter_ns() - t)
"""


def per_event(tracer_dir, rounds, n):
    """The loop's own time, untraced and traced: one `value` event per read."""
    import tempfile
    source = PER_EVENT % n
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(source)
    plain, with_trace = [], []
    for _ in range(rounds):
        plain.append(int(untraced(f.name, capture=True)[1]))
        _, evs = traced(tracer_dir, "per_event.py", source)
        with_trace.append(int([e["text"] for e in evs if e.get("kind") == "print"][0]))
    os.unlink(f.name)
    return {"n": n, "untraced_ns": plain, "traced_ns": with_trace}


def main(argv):
    if argv[0] == "--per-event":
        result = per_event(argv[1], int(argv[2]), int(argv[3]))
    elif argv[0] == "--race":
        result = race(argv[1], int(argv[2]), argv[3])
    elif argv[0] == "--first-child":
        result = first_child(int(argv[1]), argv[2])
    else:
        pairs = list(zip(argv[2::2], argv[3::2]))
        result = overhead(argv[0], int(argv[1]), pairs)
    result["python"] = "CPython %d.%d.%d" % sys.version_info[:3]
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
