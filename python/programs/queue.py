from multiprocessing import *
START_METHOD = 'fork'  # (start_method)
PRODUCERS = 1          # (producers)

def calc_square(numbers, q):
    for n in numbers:
        q.put(n*n)

if __name__ == "__main__":
    set_start_method(START_METHOD)
    numbers=[2, 3, 5]  # (numbers)
    q=Queue()
    ps=[Process(target=calc_square,args=(numbers,q)) for i in range(PRODUCERS)]

    for p in ps: p.start()
    for p in ps: p.join()

    while q.empty() is False:
        print(q.get())
