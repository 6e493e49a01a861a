"""multiprocessing.Pipe: named ends, send/recv pairs, raw bytes."""

from .support import TracerTest, program


class Pipes(TracerTest):
    def check_pipe_lesson(self, method):
        r = self.run_program(
            program("pipe.py", START_METHOD=method, USE_LOCK=True, MESSAGES=5, SIZE=70000), file="pipe.py"
        )
        self.assertWellBehaved(r)
        self.assertEqual(r.stdout(), ["[4, 9, 25]", "corrupted messages: 0"])
        squarer = r.pid_named("Process-1")
        sends = r.of("pipe", op="send")
        recvs = r.of("pipe", op="recv")
        ask = [e for e in sends if e.get("value") == [2, 3, 5]]
        reply = [e for e in sends if e.get("value") == [4, 9, 25]]
        self.assertEqual([(e["pid"], e["end"]) for e in ask], [(r.main, "parent_conn")])
        self.assertEqual([(e["pid"], e["end"]) for e in reply], [(squarer, "child_conn")])
        got = {e["msg"]: e for e in recvs if "value" in e}
        self.assertEqual((got[ask[0]["msg"]]["pid"], got[ask[0]["msg"]]["end"]), (squarer, "child_conn"))
        self.assertEqual((got[reply[0]["msg"]]["pid"], got[reply[0]["msg"]]["end"]), (r.main, "parent_conn"))
        raw_sends = [e for e in sends if "bytes" in e]
        raw_recvs = [e for e in recvs if "bytes" in e]
        self.assertEqual(len(raw_sends), 15)
        self.assertEqual({(e["end"], e["bytes"]) for e in raw_sends}, {("shared_end", 70000)})
        self.assertEqual(len({e["msg"] for e in raw_sends}), 15, "each raw send has its own id")
        self.assertEqual([(e["end"], e["msg"], e["bytes"]) for e in raw_recvs], [("reader", 0, 70000)] * 15)
        writers = {r.pid_named("Process-%d" % i) for i in (2, 3, 4)}
        self.assertEqual({e["pid"] for e in raw_sends}, writers)
        self.assertEqual({e["lock"] for e in r.of("lock")}, {"lock"})

    def test_fork(self):
        self.check_pipe_lesson("fork")

    def test_spawn(self):
        self.check_pipe_lesson("spawn")

    def test_a_frame_that_does_not_unpickle_is_reported_corrupt_and_raises(self):
        r = self.run_program(
            """
            import multiprocessing as mp
            a, b = mp.Pipe()
            a.send_bytes(b"not a pickle")
            try:
                b.recv()
            except Exception as exc:
                print(type(exc).__name__)
            conns = mp.Pipe(duplex=False)
            conns[1].send("x")
            print(conns[0].recv())
            """
        )
        self.assertWellBehaved(r)
        self.assertEqual(r.stdout(), ["UnpicklingError", "x"])
        corrupt = r.of("pipe", op="recv", end="b")
        self.assertEqual([(e["msg"], e["bytes"], e["corrupt"]) for e in corrupt], [(0, 12, True)])
        self.assertEqual({e["end"] for e in r.of("pipe")} - {"a", "b"}, {"conns[0]", "conns[1]"})
