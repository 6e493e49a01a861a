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


# Each kind's own fields in the documented order; "?" marks an optional one.
BODY = {
    "proc.start": ["name", "ppid", "target?"],
    "proc.exit": ["code"],
    "proc.spawn": ["child", "name"],
    "proc.join": ["phase", "child", "code?", "signal?"],
    "thread.spawn": ["child", "name"],
    "thread.start": ["name"],
    "thread.exit": [],
    "thread.join": ["phase", "child"],
    "print": ["text", "stream?"],
    "sleep": ["phase", "ms?"],
    "lock": ["phase", "lock"],
    "value": ["op", "name", "value"],
    "queue": ["op", "queue", "msg", "value"],
    "pipe": ["op", "end", "msg", "value?", "bytes?", "corrupt?"],
    "fork.return": ["value"],
    "system": ["phase", "command", "status?"],
    "exception": ["type", "message", "line?"],
    "note": ["text"],
}
HEAD = ["t", "pid", "tid", "cpu", "kind"]


def check_line(raw):
    """One line as the server will see it: its problems, or []."""
    problems = []
    if len(raw) + 1 > 4096:
        problems.append("line of %d bytes" % (len(raw) + 1))
    try:
        event = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        return ["not JSON (%s): %r" % (exc, raw[:200])]
    keys = list(event)
    if keys[:5] != HEAD:
        problems.append("head %s" % keys[:5])
    spec = BODY.get(event.get("kind"))
    if spec is None:
        problems.append("unknown kind %r" % event.get("kind"))
        return problems
    names = [f.rstrip("?") for f in spec]
    body = keys[5:]
    if [k for k in names if k in body] != body:
        problems.append("body fields %s, documented %s" % (body, names))
    for f in spec:
        if not f.endswith("?") and f not in event:
            problems.append("missing %s" % f)
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
        [python or PYTHON, "-I", "-B", BOOT],
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

