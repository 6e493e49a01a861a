import os, sys, time, threading
from multiprocessing import Process
WORK = 20_000_000  # (work) countdown steps, 20–40 ns each in CPython
N = 2              # (workers)

def countdown(n):
    while n > 0:
        n -= 1           # bytecodes: the thread must hold the GIL

def cpu_seconds():       # this process's CPU time and its joined children's
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system

def timed(label, run):
    t, cpu = time.time(), cpu_seconds()
    run()
    wall = time.time() - t
    print(label, round(wall, 2), "s on", round((cpu_seconds() - cpu) / wall, 2), "CPUs")

def together(workers):
    for w in workers:
        w.start()
    for w in workers: w.join()

if __name__ == "__main__":
    timed("(a) one thread:", lambda: countdown(WORK))
    timed(f"(b) {N} threads:", lambda: together([threading.Thread(target=countdown, args=(WORK // N,)) for _ in range(N)]))
    timed(f"(c) {N} processes:", lambda: together([Process(target=countdown, args=(WORK // N,)) for _ in range(N)]))
    gil = sys._is_gil_enabled() if hasattr(sys, "_is_gil_enabled") else True
    print("GIL enabled:", gil)
