# A subreaper, as `systemd --user` or tini in a container is: when a process below it dies, its children are adopted
# by this process (not by pid 1), which reaps them when they end. Runs the command it is given as its child and stays
# until it is killed, after that child has ended too.
import ctypes
import os
import sys
import time

PR_SET_CHILD_SUBREAPER = 36

libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
    sys.exit(f"prctl(PR_SET_CHILD_SUBREAPER): {os.strerror(ctypes.get_errno())}")
if os.fork() == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
while True:
    try:
        os.wait()
    except ChildProcessError:
        time.sleep(0.1)
