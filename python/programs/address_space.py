import ctypes
from multiprocessing import Process
VALUE = 100        # (value)
CHILD_VALUE = 200  # (child_value)

def show(who, x):
    print(who + ": x =", x.value, "at", hex(ctypes.addressof(x)))

def child(x):
    x.value = CHILD_VALUE    # a write: the kernel copies the page for the child
    show("child", x)

if __name__ == "__main__":
    x = ctypes.c_long(VALUE)   # an ordinary variable, not shared memory
    show("parent", x)
    p = Process(target=child, args=(x,))   # fork start method
    p.start()
    p.join()
    show("parent", x)        # still VALUE, at the same address
