"""A rank that dies the way a C++ abort does: last words on stderr, then SIGABRT (rank 1 only)."""

import faulthandler
import os
import sys
import time

if __name__ == "__main__":
    faulthandler.enable(all_threads=True)  # as rank.worker_main does: every thread's stack follows the abort
    if os.environ.get("RANK") == "1":
        sys.stderr.write("terminate called after throwing an instance of 'gloo::IoException'\n")
        sys.stderr.write("  what():  [gloo/transport/tcp/pair.cc:598] Connection closed by peer\n")
        sys.stderr.flush()
        os.abort()
    time.sleep(30)  # rank 0 waits in its collective until the launcher ends it
