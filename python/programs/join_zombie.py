import os
import multiprocessing
from multiprocessing import Process
from time import sleep
START_METHOD = 'fork'  # (start_method)
CHILD_MS = 100         # (child_ms)
WAIT_MS = 500          # (wait_ms): the parent does not join yet

def work():
    sleep(CHILD_MS / 1000)
    print("child: done")      # ... and the child exits

if __name__ == "__main__":
    multiprocessing.set_start_method(START_METHOD)
    p = Process(target=work)
    p.start()
    sleep(WAIT_MS / 1000)
    print("child state before join:", open(f"/proc/{p.pid}/stat").read().split()[2])
    p.join()                  # waitpid(): reaps the zombie
    print("after join, /proc/<pid> exists:", os.path.exists(f"/proc/{p.pid}"))
