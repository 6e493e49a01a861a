"""Processes: multiprocessing children under every start method, CPython's
helper processes, os.fork, os.waitpid, os.system."""

from .support import TracerTest, program


class StartMethods(TracerTest):
    def check_process_lesson(self, method):
        r = self.run_program(program("process.py", START_METHOD=method, DELAY_MS=5), file="process.py")
        self.assertWellBehaved(r)
        main = r.main
        p1, p2 = r.pid_named("Process-1"), r.pid_named("Process-2")
        self.assertEqual(r.stdout(p1), ["square 4", "square 9", "square 64", "square 81"])
        self.assertEqual(r.stdout(p2), ["cube 8", "cube 27", "cube 512", "cube 729"])
        self.assertEqual(r.stdout(main), ["Done!"])
        self.assertEqual(r.stdout()[-1], "Done!")
        starts = {e["pid"]: e for e in r.of("proc.start")}
        self.assertEqual((starts[p1]["target"], starts[p2]["target"]), ("calc_square", "calc_cube"))
        parent = r.pid_named("forkserver") if method == "forkserver" else main
        self.assertEqual((starts[p1]["ppid"], starts[p2]["ppid"]), (parent, parent))
        spawned = [(e["child"], e["name"]) for e in r.of("proc.spawn", pid=main)]
        self.assertIn((p1, "Process-1"), spawned)
        self.assertIn((p2, "Process-2"), spawned)
        joins = [(e["phase"], e["child"], e.get("code")) for e in r.of("proc.join", pid=main)]
        self.assertEqual(joins, [("begin", p1, None), ("end", p1, 0), ("begin", p2, None), ("end", p2, 0)])
        # A child's last word comes before its parent's join returns.
        end_of = {e["child"]: r.events.index(e) for e in r.of("proc.join", phase="end")}
        for child in (p1, p2):
            exit_index = r.events.index(r.of("proc.exit", pid=child)[0])
            self.assertLess(exit_index, end_of[child])
        # MainProcess's proc.exit comes after every one of its children's.
        main_exit = r.events.index(r.of("proc.exit", pid=main)[0])
        for child in (p1, p2):
            self.assertLess(r.events.index(r.of("proc.exit", pid=child)[0]), main_exit)
        return r

    def test_fork_children(self):
        r = self.check_process_lesson("fork")
        self.assertEqual(sorted(e["name"] for e in r.of("proc.start")), ["MainProcess", "Process-1", "Process-2"])

    def test_spawn_children_and_the_resource_tracker(self):
        r = self.check_process_lesson("spawn")
        tracker = r.pid_named("resource_tracker")
        self.assertEqual(r.of("proc.start", pid=tracker)[0]["ppid"], r.main)
        self.assertIn((tracker, "resource_tracker"), [(e["child"], e["name"]) for e in r.of("proc.spawn")])

    def test_forkserver_children_are_forked_by_the_forkserver(self):
        r = self.check_process_lesson("forkserver")
        server = r.pid_named("forkserver")
        self.assertEqual(r.of("proc.start", pid=server)[0]["ppid"], r.main)
        self.assertEqual(r.exit_code(server), 0)


class Lifecycle(TracerTest):
    def test_an_unjoined_child_is_joined_by_multiprocessings_atexit_before_main_exits(self):
        r = self.run_program(
            """
            import multiprocessing, time
            def work():
                time.sleep(0.05)
                print("child done")
            if __name__ == "__main__":
                multiprocessing.Process(target=work).start()
                print("main done")
            """
        )
        self.assertWellBehaved(r)
        child = r.pid_named("Process-1")
        tail = [(e["kind"], e.get("phase")) for e in r.lane(r.main)][-4:]
        self.assertEqual(tail, [("print", None), ("proc.join", "begin"), ("proc.join", "end"), ("proc.exit", None)])
        self.assertEqual(r.of("proc.join", phase="end")[0]["code"], 0)
        self.assertEqual(r.stdout(child), ["child done"])

    def test_exit_codes_of_children_that_exit_on_their_own(self):
        r = self.run_program(
            """
            import multiprocessing, os, sys, time
            def quits():
                sys.exit(5)
            def leaves():
                print("leaving", end="")
                os._exit(6)
            def lingers(ready):
                ready.set()
                time.sleep(10)
            if __name__ == "__main__":
                ready = multiprocessing.Event()
                a = multiprocessing.Process(target=quits)
                b = multiprocessing.Process(target=leaves)
                c = multiprocessing.Process(target=lingers, args=(ready,), daemon=True)
                for p in (a, b, c):
                    p.start()
                a.join(); b.join()
                ready.wait(10)
                print(a.exitcode, b.exitcode)
            """
        )
        self.assertWellBehaved(r)
        a, b, c = (r.pid_named("Process-%d" % i) for i in (1, 2, 3))
        self.assertEqual((r.exit_code(a), r.exit_code(b)), (5, 6))
        self.assertEqual(r.stdout(b), ["leaving"])
        self.assertEqual(r.stdout(r.main), ["5 6"])
        ends = {e["child"]: (e.get("code"), e.get("signal")) for e in r.of("proc.join", phase="end")}
        # The daemon is terminated by multiprocessing's exit handler, then joined.
        self.assertEqual(ends, {a: (5, None), b: (6, None), c: (None, 15)})

    def test_a_child_reaped_by_start_or_is_alive_has_its_join_there(self):
        r = self.run_program(
            """
            import multiprocessing as mp, os, signal, time
            from multiprocessing.connection import wait
            def quick():
                pass
            def victim(ready):
                ready.set()
                time.sleep(10)
            if __name__ == "__main__":
                ready = mp.Event()
                a = mp.Process(target=quick)
                a.start()
                wait([a.sentinel])
                while open(f"/proc/{a.pid}/stat").read().split()[2] != "Z":
                    time.sleep(0.001)  # a is a zombie now
                b = mp.Process(target=victim, args=(ready,))
                b.start()  # ... and start() reaps it
                ready.wait(10)
                os.kill(b.pid, signal.SIGKILL)
                while b.is_alive():
                    time.sleep(0.001)
                print(a.exitcode, b.exitcode)
            """
        )
        self.assertWellBehaved(r)
        a, b = r.pid_named("Process-1"), r.pid_named("Process-2")
        self.assertEqual(r.stdout(r.main), ["0 -9"])
        joins = [(e["phase"], e["child"], e.get("code"), e.get("signal")) for e in r.of("proc.join")]
        self.assertEqual(joins, [("begin", a, None, None), ("end", a, 0, None), ("begin", b, None, None), ("end", b, None, 9)])
        kinds = [(e["kind"], e.get("child")) for e in r.lane(r.main)]
        self.assertLess(kinds.index(("proc.join", a)), kinds.index(("proc.spawn", b)), "reaped inside b.start()")

    def test_a_child_killed_by_a_signal_shows_in_its_parents_join(self):
        r = self.run_program(
            """
            import multiprocessing, os, signal, time
            def work():
                os.kill(os.getpid(), signal.SIGKILL)
            if __name__ == "__main__":
                p = multiprocessing.Process(target=work)
                p.start(); p.join()
                print(p.exitcode)
            """
        )
        child = r.pid_named("Process-1")
        self.assertEqual(r.stdout(r.main), ["-9"])
        self.assertEqual(r.of("proc.join", phase="end")[0]["signal"], 9)
        self.assertEqual(r.of("proc.exit", pid=child), [], "a killed process says nothing more")
        self.assertEqual(r.exit_code(r.main), 0)
        self.assertEqual(r.left_alive, [])

    def test_an_exception_in_a_spawned_child_is_reported_from_the_child(self):
        r = self.run_program(
            """
            import multiprocessing as mp
            def work(n):
                return n / 0
            if __name__ == "__main__":
                mp.set_start_method("spawn")
                p = mp.Process(target=work, args=(1,))
                p.start(); p.join()
                print("exitcode", p.exitcode)
            """,
            file="child_crash.py",
        )
        self.assertWellBehaved(r)
        child = r.pid_named("Process-1")
        (exc,) = r.of("exception")
        self.assertEqual((exc["pid"], exc["type"], exc["line"]), (child, "ZeroDivisionError", 4))
        err = r.stderr(child)
        self.assertEqual(err[:2], ["Process Process-1:", "Traceback (most recent call last):"])
        self.assertIn('  File "child_crash.py", line 4, in work', err)
        self.assertIn("    return n / 0", err)
        self.assertFalse([line for line in err if "forkline_trace" in line], "the tracer's frames are hidden")
        self.assertEqual(r.exit_code(child), 1)
        self.assertEqual(r.stdout(r.main), ["exitcode 1"])

    def test_a_spawned_child_rerunning_the_top_level_prints_inside_its_own_lane(self):
        r = self.run_program(
            """
            import multiprocessing as mp
            print("top level, as", __name__)
            def work():
                print("work")
            if __name__ == "__main__":
                mp.set_start_method("spawn")
                p = mp.Process(target=work)
                p.start(); p.join()
            """
        )
        self.assertWellBehaved(r)
        child = r.pid_named("Process-1")
        lane = r.lane(child)
        self.assertEqual(lane[0]["kind"], "proc.start")
        self.assertEqual(r.stdout(child), ["top level, as __mp_main__", "work"])
        self.assertLessEqual(lane[0]["t"], lane[1]["t"], "the lane starts with the first thing the child did")


class OsFork(TracerTest):
    def test_fork_returns_the_childs_pid_in_the_parent_and_0_in_the_child(self):
        r = self.run_program(program("fork.py"), file="fork.py")
        self.assertWellBehaved(r)
        main = r.main
        (child_start,) = [e for e in r.of("proc.start") if e["pid"] != main]
        child = child_start["pid"]
        self.assertEqual((child_start["name"], child_start["ppid"]), ("MainProcess-fork", main))
        returns = {(e["pid"], e["value"]) for e in r.of("fork.return")}
        self.assertEqual(returns, {(main, child), (child, 0)})
        self.assertEqual(r.lane(child)[1]["kind"], "fork.return", "proc.start, then fork.return")
        kinds = [e["kind"] for e in r.lane(main)]
        self.assertLess(kinds.index("proc.spawn"), kinds.index("fork.return"))
        self.assertEqual(r.stdout(main), ["hello parent"])
        self.assertEqual(r.stdout(child), ["hello child"])
        joins = [(e["phase"], e["child"], e.get("code")) for e in r.of("proc.join", pid=main)]
        self.assertEqual(joins, [("begin", child, None), ("end", child, 0)])

    def test_waitpid_decodes_exit_codes_and_signals_and_polls_only_count_when_they_reap(self):
        r = self.run_program(
            """
            import os, signal, time
            r, w = os.pipe()
            a = os.fork()
            if a == 0:
                os.read(r, 1)  # until the parent has polled
                os._exit(4)
            print(os.waitpid(a, os.WNOHANG))
            os.write(w, b"x")
            os.waitpid(a, 0)
            b = os.fork()
            if b == 0:
                os.write(w, b"y")  # after its proc.start
                time.sleep(10)
            os.read(r, 1)
            os.kill(b, signal.SIGTERM)
            os.wait()
            """
        )
        self.assertWellBehaved(r)
        a, b = [e["pid"] for e in r.of("proc.start") if e["pid"] != r.main]
        self.assertEqual(r.stdout(r.main), ["(0, 0)"])
        joins = [(e["phase"], e["child"], e.get("code"), e.get("signal")) for e in r.of("proc.join")]
        self.assertEqual(
            joins,
            [("begin", a, None, None), ("end", a, 4, None), ("begin", b, None, None), ("end", b, None, 15)],
        )
        self.assertEqual(r.exit_code(a), 4)


class OsSystem(TracerTest):
    def test_exit_1_returns_status_256(self):
        r = self.run_program(program("system.py", COMMAND="exit 1"), file="system.py")
        self.assertWellBehaved(r)
        system = [(e["phase"], e["command"], e.get("status")) for e in r.of("system")]
        self.assertEqual(system, [("begin", "exit 1", None), ("end", "exit 1", 256)])
        self.assertEqual(r.stdout(), ["exit status 256", "exit code 1"])

    def test_the_shells_output_becomes_prints_and_the_shell_has_a_lane(self):
        r = self.run_program(program("system.py", COMMAND="echo hello; echo oops >&2"), file="system.py")
        self.assertWellBehaved(r)
        self.assertEqual(r.stdout(), ["hello", "oops", "exit status 0", "exit code 0"])
        (sh,) = [e for e in r.of("proc.start") if e["name"] == "sh"]
        self.assertEqual((sh["ppid"], sh["target"]), (r.main, "os.system"))
        joins = [(e["phase"], e["child"], e.get("code")) for e in r.of("proc.join")]
        self.assertEqual(joins, [("begin", sh["pid"], None), ("end", sh["pid"], 0)])

    def test_programs_the_shell_starts_do_not_hold_the_event_pipe(self):
        r = self.run_program(
            """
            import os
            os.system("ls /proc/self/fd")
            """
        )
        self.assertWellBehaved(r)
        # ls's own fds: 0 1 2 and the directory it reads; not the event pipe.
        self.assertEqual(r.stdout(), ["0", "1", "2", "3"])
