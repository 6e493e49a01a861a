import multiprocessing
import os
print("Number of cpu : ", multiprocessing.cpu_count())
print("CPUs this process may use : ", len(os.sched_getaffinity(0)))
