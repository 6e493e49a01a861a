"""Python's baseline for forkline's pipeline throughput: P producer processes
put N small messages each on one multiprocessing.Queue; the main process gets
them all. Prints one JSON line: messages, seconds, per_s.

    python3 crates/bench/python/mp_queue.py PROCESSES MESSAGES
"""
import json
import multiprocessing as mp
import os
import sys
import time


def producer(q, n):
    pid = os.getpid()
    for i in range(n):
        q.put((pid, i, time.monotonic_ns()))


def main():
    processes, messages = int(sys.argv[1]), int(sys.argv[2])
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    started = time.perf_counter()
    procs = [ctx.Process(target=producer, args=(q, messages)) for _ in range(processes)]
    for p in procs:
        p.start()
    for _ in range(processes * messages):
        q.get()
    for p in procs:
        p.join()
    seconds = time.perf_counter() - started
    total = processes * messages
    print(json.dumps({"messages": total, "seconds": seconds, "per_s": total / seconds}))


if __name__ == "__main__":
    main()
