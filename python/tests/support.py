"""Runs a program through forkline_boot.py exactly as the Rust runner does
(cleared environment, the event pipe as an inherited fd, stdout /dev/null)
and checks every line it wrote against docs/events.md's shape.

The interpreter under test is the one running the tests, or the one named
by FORKLINE_TEST_PYTHON.
"""

import json
import os
import subprocess
import sys
import textwrap
import time
import unittest

PYTHON_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BOOT = os.path.join(PYTHON_DIR, "forkline_boot.py")
PROGRAMS = os.path.join(PYTHON_DIR, "programs")


PYTHON = os.environ.get("FORKLINE_TEST_PYTHON") or sys.executable


# The one definition of the events, which the server and the page read too.
SCHEMA_PATH = os.path.join(os.path.dirname(PYTHON_DIR), "schema", "events.json")
with open(SCHEMA_PATH, encoding="utf-8") as _f:
    SCHEMA = json.load(_f)
# The kinds only the server or the runner write; the tracer never does.
NOT_THE_TRACERS = {"run.start", "run.end", "result", "kernel.sample", "gil", "compute"}
HEAD = [f for f in SCHEMA["event_fields"] if f != "seq"] + ["kind"]


def _fits(expected, value):
    if isinstance(expected, list):
        return value in expected
    name = expected.rstrip("?")
    return {
        "int": type(value) is int,
        "string": type(value) is str,
        "bool": type(value) is bool,
        "object": type(value) is dict,
        "strings": type(value) is list and all(type(v) is str for v in value),
        "any": True,
    }[name]


def check_line(raw):
    """One line as the server will see it, checked against the schema: its
    problems, or []."""
    problems = []
    if len(raw) + 1 > 4096:
        problems.append("line of %d bytes" % (len(raw) + 1))
    try:
        event = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        return ["not JSON (%s): %r" % (exc, raw[:200])]
    keys = list(event)
    if keys[: len(HEAD)] != HEAD:
        problems.append("head %s" % keys[: len(HEAD)])
    kind = event.get("kind")
    spec = SCHEMA["kinds"].get(kind)
    if spec is None or kind in NOT_THE_TRACERS:
        problems.append("a kind the tracer may not write: %r" % kind)
        return problems
    body = keys[len(HEAD):]
    if [k for k in spec if k in body] != body:
        problems.append("body fields %s, the schema's %s" % (body, list(spec)))
    for name, expected in spec.items():
        optional = isinstance(expected, str) and expected.endswith("?")
        if name not in event:
            if not optional:
                problems.append("missing %s" % name)
        elif not _fits(expected, event[name]):
            problems.append("%s = %r is not %s" % (name, event[name], expected))
    for f in ("t", "pid", "tid", "cpu"):
        if type(event.get(f)) is not int:
            problems.append("%s not an integer" % f)
    if event.get("t", 0) < 0:
        problems.append("negative t")
    return problems


class Run:
    def __init__(self, events, returncode, pids_alive_after):
        self.events = events
        self.returncode = returncode
        self.left_alive = pids_alive_after

    def of(self, kind, **match):
        return [e for e in self.events if e["kind"] == kind and all(e.get(k) == v for k, v in match.items())]

    def pid_named(self, name):
        starts = self.of("proc.start", name=name)
        assert len(starts) == 1, "one proc.start named %s: %s" % (name, starts)
        return starts[0]["pid"]

    @property
    def main(self):
        return self.pid_named("MainProcess")

    def stdout(self, pid=None):
        return [e["text"] for e in self.of("print") if "stream" not in e and (pid is None or e["pid"] == pid)]

    def stderr(self, pid=None):
        return [e["text"] for e in self.of("print") if e.get("stream") == "stderr" and (pid is None or e["pid"] == pid)]

    def lane(self, pid, tid=None):
        return [e for e in self.events if e["pid"] == pid and (tid is None or e["tid"] == tid)]

    def exit_code(self, pid):
        exits = [e["code"] for e in self.events if e["pid"] == pid and e["kind"] == "proc.exit"]
        assert len(exits) == 1, "one proc.exit from %d: %s" % (pid, exits)
        return exits[0]


def _alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            state = f.read().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def run(source, file="prog.py", python=None, timeout=30, dedent=True, env_extra=None):
    """Runs ``source`` as the runner would; returns a Run once the pipe is at
    EOF and the interpreter has exited. Fails on any malformed line."""
    if dedent:
        source = textwrap.dedent(source)
    read_end, write_end = os.pipe()
    env = {
        "FORKLINE_EVENT_FD": str(write_end),
        "FORKLINE_ORIGIN_NS": str(time.monotonic_ns()),
        "FORKLINE_PROGRAM": source,
        "FORKLINE_PROGRAM_FILE": file,
        "FORKLINE_TRACER_DIR": PYTHON_DIR,
        "PATH": "/usr/bin:/bin",
        "LANG": "C.UTF-8",
    }
    env.update(env_extra or {})
    proc = subprocess.Popen(
        [python or PYTHON, "-I", "-S", "-B", BOOT],
        env=env,
        pass_fds=[write_end],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        cwd="/",
    )
    os.close(write_end)
    chunks = []
    deadline = time.monotonic() + timeout
    try:
        import select

        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("no EOF on the event pipe within %ss" % timeout)
            if not select.select([read_end], [], [], left)[0]:
                continue
            chunk = os.read(read_end, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
        try:
            _, stderr = proc.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            raise AssertionError("the interpreter still runs 5 s after the pipe's EOF")
    finally:
        os.close(read_end)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    data = b"".join(chunks)
    assert data.endswith(b"\n") or not data, "the last line is cut: %r" % data[-200:]
    events = []
    for raw in data.split(b"\n")[:-1]:
        problems = check_line(raw)
        assert not problems, "%s in %r" % (problems, raw[:300])
        events.append(json.loads(raw))
    pids = {e["pid"] for e in events}
    # A process says proc.exit and closes its end of the pipe just before the
    # interpreter's last teardown: give the stragglers a moment.
    until = time.monotonic() + 3
    alive = [p for p in pids if _alive(p)]
    while alive and time.monotonic() < until:
        time.sleep(0.01)
        alive = [p for p in alive if _alive(p)]
    result = Run(events, proc.returncode, alive)
    result.stderr_text = stderr.decode("utf-8", "replace")
    return result


def program(name, **replace):
    """A lesson program from python/programs, with NAME = value lines changed."""
    with open(os.path.join(PROGRAMS, name)) as f:
        source = f.read()
    lines = source.splitlines(True)
    for key, value in replace.items():
        for i, line in enumerate(lines):
            if line.startswith(key + " = "):
                comment = line[line.index("#"):] if "#" in line else "\n"
                lines[i] = "%s = %r  %s" % (key, value, comment if comment.endswith("\n") else comment + "\n")
                break
        else:
            raise KeyError("%s has no %s" % (name, key))
    return "".join(lines)


class TracerTest(unittest.TestCase):
    maxDiff = None

    def run_program(self, source, **kwargs):
        return run(source, **kwargs)

    def assertWellBehaved(self, r, code=0):
        """Every process said proc.start first and proc.exit last, once
        (except a process started by os.system, which execs its shell, and
        one killed by a signal), and none is left."""
        starts = {}
        for e in r.events:
            pid = e["pid"]
            if e["kind"] == "proc.start":
                self.assertNotIn(pid, starts, "two proc.start from %d" % pid)
                starts[pid] = e
            else:
                self.assertIn(pid, starts, "%s from %d before its proc.start" % (e["kind"], pid))
        killed = {e["child"] for e in r.of("proc.join") if "signal" in e}
        for pid, start in starts.items():
            lane = r.lane(pid)
            if start.get("target") == "os.system" or pid in killed:
                continue
            exits = [e for e in lane if e["kind"] == "proc.exit"]
            self.assertEqual(len(exits), 1, "one proc.exit from %s (%d)" % (start["name"], pid))
            self.assertIs(lane[-1], exits[0], "proc.exit is %s's last event" % start["name"])
        self.assertEqual(r.exit_code(r.main), code)
        self.assertEqual(r.returncode, code, r.stderr_text)
        self.assertEqual(r.left_alive, [], "processes left after EOF")

