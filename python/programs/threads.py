import time
import threading
DELAY_MS = 200  # (sleep_ms)

def calc_square(numbers):
    print("Calculate square numbers")
    for n in numbers:
        time.sleep(DELAY_MS / 1000)
        print('square : ',n*n)

def calc_cube(numbers):
    print("calculate cube of numbers")
    for n in numbers:
        time.sleep(DELAY_MS / 1000)
        print('cube : ',n*n*n)

arr = [2, 3, 8, 9]  # (numbers)

t=time.time()

t1 = threading.Thread(target = calc_square, args=(arr,))
t2 = threading.Thread(target = calc_cube, args=(arr,))

t1.start()
t2.start()

t1.join()
t2.join()

print("done in : ",time.time() - t)
print("Hah. . . I am done with all my work now!")
