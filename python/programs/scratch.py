# Your own program: forkline runs it on real CPython in its sandbox and draws
# every process and thread it starts.
