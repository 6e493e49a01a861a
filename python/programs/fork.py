import os
x = os.fork()
if x:
    print('hello parent')
else:
    print('hello child')
if x: os.waitpid(x, 0)  # not in the lesson: reap the child
