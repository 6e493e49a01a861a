import multiprocessing
from multiprocessing import Process, Pipe, Lock
START_METHOD = 'fork'  # (start_method)
WRITERS = 3            # (writers)
MESSAGES = 20          # (messages)
SIZE = 65_536          # (message_bytes)
USE_LOCK = False       # (use_lock)

def square_all(conn):
    numbers = conn.recv()               # from the parent's end
    conn.send([n*n for n in numbers])   # back through the same end: duplex

def writer(conn, wid, lock):
    for i in range(MESSAGES):
        data = bytes([65 + wid]) * SIZE  # writer 0 sends AAAA..., writer 1 BBBB...
        if USE_LOCK: lock.acquire()
        conn.send_bytes(data)
        if USE_LOCK: lock.release()

if __name__ == "__main__":
    multiprocessing.set_start_method(START_METHOD)
    parent_conn, child_conn = Pipe()
    p = Process(target=square_all, args=(child_conn,))
    p.start()
    parent_conn.send([2, 3, 5])
    print(parent_conn.recv())
    p.join()

    reader, shared_end = Pipe(duplex=False)
    lock = Lock()
    ws = [Process(target=writer, args=(shared_end, i, lock)) for i in range(WRITERS)]
    for w in ws: w.start()
    shared_end.close()
    corrupt = 0
    for _ in range(WRITERS * MESSAGES):
        data = reader.recv_bytes()
        if data != data[:1] * SIZE:     # not one writer's letter, SIZE times
            corrupt += 1
    for w in ws: w.join()
    print("corrupted messages:", corrupt)
