"""A stand-in for a dashboard stuck in its first render: it says it is a Textual app, then ignores SIGTERM,
SIGINT, the quit message and its stdin closing. Only SIGKILL ends it."""

import signal
import sys
import time

signal.signal(signal.SIGTERM, signal.SIG_IGN)
signal.signal(signal.SIGINT, signal.SIG_IGN)
sys.stdout.write("__GANGLION__\n")
sys.stdout.flush()
while True:
    time.sleep(0.2)
