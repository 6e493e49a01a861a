import time
import multiprocessing
START_METHOD = 'fork'  # (start_method)
ITERATIONS = 1000      # (iterations); the lesson does 100
USE_LOCK = True        # (use_lock)

def deposit(balance, lock):
    for i in range(ITERATIONS):
        #time.sleep(0.01)
        if USE_LOCK: lock.acquire()
        balance.value = balance.value + 1
        if USE_LOCK: lock.release()

def withdraw(balance, lock):
    for i in range(ITERATIONS):
        #time.sleep(0.01)
        if USE_LOCK: lock.acquire()
        balance.value = balance.value - 1
        if USE_LOCK: lock.release()

if __name__ == '__main__':
    multiprocessing.set_start_method(START_METHOD)
    balance = multiprocessing.Value('i',200)
    lock = multiprocessing.Lock()
    d = multiprocessing.Process(target=deposit, args=(balance,lock))
    w = multiprocessing.Process(target=withdraw, args=(balance,lock))
    d.start()
    w.start()
    d.join()
    w.join()
    print(balance.value)
