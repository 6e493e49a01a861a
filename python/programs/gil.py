import sys, time, threading
from multiprocessing import Process
WORK = 20_000_000  # (work) countdown steps, 20–40 ns each in CPython
N = 2              # (workers)

def countdown(n):
    while n > 0:
        n -= 1           # bytecodes: the thread must hold the GIL

def timed(label, workers):
    t = time.time()
    for w in workers:
        w.start()
    for w in workers: w.join()
    print(label, round(time.time() - t, 2), "s")

if __name__ == "__main__":
    t = time.time()
    countdown(WORK)
    print("(a) one thread:", round(time.time() - t, 2), "s")
    timed(f"(b) {N} threads:", [threading.Thread(target=countdown, args=(WORK // N,)) for _ in range(N)])
    timed(f"(c) {N} processes:", [Process(target=countdown, args=(WORK // N,)) for _ in range(N)])
    gil = sys._is_gil_enabled() if hasattr(sys, "_is_gil_enabled") else True
    print("GIL enabled:", gil)
