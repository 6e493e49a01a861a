"""Queues: put/get pairs across processes and threads."""

from .support import TracerTest, program


class Queues(TracerTest):
    def check_queue_lesson(self, method):
        r = self.run_program(program("queue.py", START_METHOD=method), file="queue.py")
        self.assertWellBehaved(r)
        producer = r.pid_named("Process-1")
        self.assertEqual(r.stdout(), ["4", "9", "25"])
        puts = r.of("queue", op="put")
        gets = r.of("queue", op="get")
        self.assertEqual([(e["pid"], e["queue"], e["value"]) for e in puts], [(producer, "q", v) for v in (4, 9, 25)])
        self.assertEqual([(e["pid"], e["queue"], e["value"]) for e in gets], [(r.main, "q", v) for v in (4, 9, 25)])
        self.assertEqual([e["msg"] for e in gets], [e["msg"] for e in puts], "FIFO: each get pairs with its put")
        self.assertEqual(len({e["msg"] for e in puts}), 3)
        # CPython's feeder thread, which moves the items into the pipe, has a lane.
        (feeder,) = r.of("thread.spawn", pid=producer)
        self.assertEqual(feeder["name"], "QueueFeederThread")
        lane = r.lane(producer, feeder["child"])
        self.assertEqual([e["kind"] for e in lane], ["thread.start", "thread.exit"])
        # Each get prints right after it.
        kinds = [(e["kind"], e.get("value", e.get("text"))) for e in r.lane(r.main) if e["kind"] in ("queue", "print")]
        self.assertEqual(kinds, [("queue", 4), ("print", "4"), ("queue", 9), ("print", "9"), ("queue", 25), ("print", "25")])

    def test_fork(self):
        self.check_queue_lesson("fork")

    def test_spawn(self):
        self.check_queue_lesson("spawn")

    def test_thread_queue_and_process_queue_lesson(self):
        r = self.run_program(program("queue_vs_thread_queue.py"), file="queue_vs_thread_queue.py")
        self.assertWellBehaved(r)
        self.assertEqual(
            r.stdout(),
            ["thread -> queue.Queue: [4, 9, 25]", "process -> queue.Queue: []", "process -> multiprocessing.Queue: [4, 9, 25]"],
        )
        by_queue = {}
        for e in r.of("queue"):
            by_queue.setdefault(e["queue"], []).append((e["op"], e["msg"], e["value"]))
        tq = by_queue["tq"]
        self.assertEqual([x[0] for x in tq], ["put"] * 3 + ["get"] * 3)
        self.assertEqual([x[1] for x in tq[:3]], [x[1] for x in tq[3:]])
        self.assertEqual([x[0] for x in by_queue["pq"]], ["put"] * 3, "the child's copy: nobody gets them")
        mq = by_queue["mq"]
        self.assertEqual([x[1] for x in mq if x[0] == "put"], [x[1] for x in mq if x[0] == "get"])
        # The thread put from its own lane.
        thread = r.of("thread.spawn", name="Thread-1 (calc_square)")[0]["child"]
        self.assertEqual({e["tid"] for e in r.of("queue", queue="tq", op="put")}, {thread})

    def test_other_queues_and_payloads(self):
        r = self.run_program(
            """
            import multiprocessing as mp, queue
            jq = mp.JoinableQueue()
            jq.put({"a": [1, 2.5, None, True]})
            print(jq.get()); jq.task_done()
            sq = mp.SimpleQueue()
            sq.put(("x", 1))
            print(sq.get())
            pq = queue.PriorityQueue()
            for n in (3, 1, 2):
                pq.put(n)
            print([pq.get() for _ in range(3)], pq.empty(), pq.qsize())
            big = queue.Queue()
            big.put(list(range(1000)))
            big.put(float("nan"))
            big.put(object)
            big.get(); big.get(); big.get()
            q = mp.Queue()
            q.put(1)
            print(q.get(timeout=5), q.empty())
            q.put_nowait(2)
            print(q.get())
            """
        )
        self.assertWellBehaved(r)
        self.assertEqual(r.stdout(), ["{'a': [1, 2.5, None, True]}", "('x', 1)", "[1, 2, 3] True 0", "1 True", "2"])
        values = {(e["queue"], e["op"]): e["value"] for e in r.of("queue")}
        self.assertEqual(values[("jq", "get")], {"a": [1, 2.5, None, True]})
        self.assertEqual(values[("sq", "put")], ["x", 1])
        bigs = [e["value"] for e in r.of("queue", queue="big", op="put")]
        self.assertIsInstance(bigs[0], str)
        self.assertTrue(bigs[0].startswith("[0, 1, 2"))
        self.assertLessEqual(len(bigs[0].encode()), 300)
        self.assertEqual(bigs[1:], ["nan", "<class 'object'>"])
        pq = r.of("queue", queue="pq")
        self.assertEqual([e["value"] for e in pq if e["op"] == "get"], [1, 2, 3])
        put_of = {e["value"]: e["msg"] for e in pq if e["op"] == "put"}
        self.assertEqual([e["msg"] for e in pq if e["op"] == "get"], [put_of[1], put_of[2], put_of[3]])
