import multiprocessing
import queue
import threading

def calc_square(numbers, q):
    for n in numbers:
        q.put(n*n)

def drain(q):
    got = []
    while q.empty() is False:
        got.append(q.get())
    return got

if __name__ == "__main__":
    numbers=[2, 3, 5]                   # (numbers)
    tq = queue.Queue()                  # lives in this process's memory
    t = threading.Thread(target=calc_square, args=(numbers, tq))
    t.start(); t.join()
    print("thread -> queue.Queue:", drain(tq))

    pq = queue.Queue()                  # copied into the child by fork
    p = multiprocessing.Process(target=calc_square, args=(numbers, pq))
    p.start(); p.join()
    print("process -> queue.Queue:", drain(pq))

    mq = multiprocessing.Queue()        # a pipe both processes share
    p = multiprocessing.Process(target=calc_square, args=(numbers, mq))
    p.start(); p.join()
    print("process -> multiprocessing.Queue:", drain(mq))
