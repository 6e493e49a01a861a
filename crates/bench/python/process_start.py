"""Python's baseline for forkline's run start and worker start+join: time
Process(target=noop).start() + join(), one process at a time, with the given
start method. Prints one JSON line: method, ns (one sample per process).

    python3 crates/bench/python/process_start.py spawn|fork COUNT
"""
import json
import multiprocessing as mp
import sys
import time


def noop():
    pass


def main():
    method, count = sys.argv[1], int(sys.argv[2])
    ctx = mp.get_context(method)
    samples = []
    for _ in range(count):
        started = time.perf_counter_ns()
        p = ctx.Process(target=noop)
        p.start()
        p.join()
        samples.append(time.perf_counter_ns() - started)
    print(json.dumps({"method": method, "ns": samples}))


if __name__ == "__main__":
    main()
