import multiprocessing
from multiprocessing import Process
from time import sleep
START_METHOD = 'fork'  # (start_method)
DELAY_MS = 100         # (delay_ms); the lesson sleeps 5 s

def calc_square(numbers):
    for n in numbers:
        sleep(DELAY_MS / 1000)
        print("square "+str(n*n))

def calc_cube(numbers):
    for n in numbers:
        sleep(DELAY_MS / 1000)
        print("cube "+ str(n*n*n))

if __name__ == "__main__":
    multiprocessing.set_start_method(START_METHOD)
    arr=[2, 3, 8, 9]   # (numbers)
    p1 = Process(target=calc_square, args=(arr,))
    p2 = Process(target=calc_cube, args=(arr,))

    p1.start()
    p2.start()

    p1.join()
    p2.join()

    print("Done!")
