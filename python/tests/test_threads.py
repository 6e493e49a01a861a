"""Threads: spawn before start, join spans, exceptions, CPython's own threads."""

from .support import TracerTest, program


class Threads(TracerTest):
    def test_the_threads_lesson_each_thread_has_its_lane_and_spawn_comes_before_start(self):
        r = self.run_program(program("threads.py", DELAY_MS=5), file="threads.py")
        self.assertWellBehaved(r)
        main = r.main
        spawns = r.of("thread.spawn", pid=main)
        self.assertEqual([e["name"] for e in spawns], ["Thread-1 (calc_square)", "Thread-2 (calc_cube)"])
        for spawn in spawns:
            tid = spawn["child"]
            self.assertNotEqual(tid, main)
            lane = r.lane(main, tid)
            self.assertEqual((lane[0]["kind"], lane[0]["name"]), ("thread.start", spawn["name"]))
            self.assertEqual(lane[-1]["kind"], "thread.exit")
            self.assertLess(r.events.index(spawn), r.events.index(lane[0]), "spawn before start")
        t1, t2 = (s["child"] for s in spawns)
        self.assertEqual(r.stdout(main)[-2:][1], "Hah. . . I am done with all my work now!")
        self.assertEqual(
            [e["text"] for e in r.lane(main, t1) if e["kind"] == "print"],
            ["Calculate square numbers", "square :  4", "square :  9", "square :  64", "square :  81"],
        )
        self.assertEqual(len([e for e in r.lane(main, t2) if e["kind"] == "sleep"]), 8)
        joins = [(e["phase"], e["child"]) for e in r.of("thread.join", tid=main)]
        self.assertEqual(joins, [("begin", t1), ("end", t1), ("begin", t2), ("end", t2)])
        # join ends after the thread's last act
        ends = r.of("thread.join", phase="end")
        self.assertLess(r.events.index(r.lane(main, t1)[-1]), r.events.index(ends[0]))

    def test_an_uncaught_exception_in_a_thread_is_reported_from_that_thread(self):
        r = self.run_program(
            """
            import threading
            def work():
                raise ValueError("bad value")
            t = threading.Thread(target=work, name="worker")
            t.start(); t.join()
            print("main goes on")
            """,
            file="t.py",
        )
        self.assertWellBehaved(r)
        (exc,) = r.of("exception")
        tid = r.of("thread.spawn")[0]["child"]
        self.assertEqual((exc["tid"], exc["type"], exc["message"], exc["line"]), (tid, "ValueError", "bad value", 4))
        err = [e["text"] for e in r.lane(r.main, tid) if e.get("stream") == "stderr"]
        self.assertEqual(err[0], "Exception in thread worker:")
        self.assertIn('  File "t.py", line 4, in work', err)
        self.assertEqual(err[-1], "ValueError: bad value")
        self.assertEqual(r.lane(r.main, tid)[-1]["kind"], "thread.exit", "after its traceback")
        self.assertEqual(r.stdout(), ["main goes on"])

    def test_a_daemon_threads_unfinished_line_is_flushed_when_the_process_exits(self):
        r = self.run_program(
            """
            import threading, time
            written = threading.Event()
            def work():
                print("half a line", end="")
                written.set()
                time.sleep(10)
            threading.Thread(target=work, daemon=True).start()
            written.wait(10)
            """
        )
        self.assertWellBehaved(r)
        self.assertEqual(r.stdout(), ["half a line"])
