# A program of your own: forkline runs it on real CPython in its sandbox and
# draws every process and thread it starts. For example:
from multiprocessing import Process
import os


def hello(name):
    print("hello from", name, "pid", os.getpid())


if __name__ == "__main__":
    p = Process(target=hello, args=("a child",))
    p.start()
    p.join()
    print("the child exited with", p.exitcode)
