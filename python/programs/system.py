import os
COMMAND = 'echo hello'  # (command)
status = os.system(COMMAND)
print("exit status", status)
print("exit code", os.waitstatus_to_exitcode(status))
