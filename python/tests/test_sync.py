"""multiprocessing Lock/RLock and Value."""

from .support import TracerTest, program


class LockAndValue(TracerTest):
    def check_lock_lesson(self, method, iterations=100):
        r = self.run_program(program("lock.py", START_METHOD=method, ITERATIONS=iterations), file="lock.py")
        self.assertWellBehaved(r)
        d, w = r.pid_named("Process-1"), r.pid_named("Process-2")
        self.assertEqual(r.stdout(), ["200"])
        # Each worker: wait, acquire, read, write, release, per iteration.
        for pid, step in ((d, 1), (w, -1)):
            ops = [e for e in r.lane(pid) if e["kind"] in ("lock", "value")]
            self.assertEqual(len(ops), 5 * iterations)
            for i in range(0, len(ops), 5):
                five = ops[i : i + 5]
                self.assertEqual(
                    [(e["kind"], e.get("phase") or e.get("op")) for e in five],
                    [("lock", "wait"), ("lock", "acquire"), ("value", "read"), ("value", "write"), ("lock", "release")],
                )
                self.assertEqual({e.get("lock") or e.get("name") for e in five}, {"lock", "balance"})
                self.assertEqual(five[3]["value"], five[2]["value"] + step)
        # Never two holders at once, in the order the events were written.
        holder = None
        for e in r.of("lock"):
            if e["phase"] == "acquire":
                self.assertIsNone(holder, "acquired while held")
                holder = e["pid"]
            elif e["phase"] == "release":
                self.assertEqual(holder, e["pid"])
                holder = None
        writes = r.of("value", op="write")
        self.assertEqual(writes[-1]["value"], 200, "the last write is the balance printed")
        reads = r.of("value", op="read", pid=r.main)
        self.assertEqual([e["value"] for e in reads], [200])
        # The Value's own RLock is internal: only the program's lock is traced.
        self.assertEqual({e["lock"] for e in r.of("lock")}, {"lock"})

    def test_fork(self):
        self.check_lock_lesson("fork")

    def test_spawn(self):
        self.check_lock_lesson("spawn")

    def test_forkserver(self):
        self.check_lock_lesson("forkserver", iterations=50)

    def test_with_rlock_nonblocking_names_and_fallbacks(self):
        r = self.run_program(
            """
            import multiprocessing as mp
            guard = mp.RLock()
            with guard:
                with guard:
                    pass
            plain = mp.Lock()
            plain.acquire()
            print(plain.acquire(False), plain.acquire(timeout=0.01))
            plain.release()
            locks = [mp.Lock()]
            with locks[0]:
                pass
            v = mp.Value("d", 1.5)
            v.value = 2.5
            raw = mp.Value("i", 1, lock=False)
            raw.value = 3
            counters = [mp.Value("i", 7)]
            counters[0].value += 1
            with counters[0].get_lock():
                pass
            """
        )
        self.assertWellBehaved(r)
        self.assertEqual(r.stdout(), ["False False"])
        seq = [(e["lock"], e["phase"]) for e in r.of("lock")]
        self.assertEqual(
            seq,
            [("guard", "wait"), ("guard", "acquire"), ("guard", "wait"), ("guard", "acquire"),
             ("guard", "release"), ("guard", "release"),
             ("plain", "wait"), ("plain", "acquire"),
             ("plain", "wait"), ("plain", "wait"),  # two attempts that failed
             ("plain", "release"),
             ("Lock-1", "wait"), ("Lock-1", "acquire"), ("Lock-1", "release")],
        )
        values = [(e["name"], e["op"], e["value"]) for e in r.of("value")]
        self.assertEqual(values, [("Value-1", "read", 7), ("Value-1", "write", 8)], "floats and raw values are not traced")
