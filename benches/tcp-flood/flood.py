#!/usr/bin/env python3
"""Open idle TCP connections to the SIP port from several loopback source addresses, sample the
service's resident memory (/proc/<pid>/status VmRSS) and its open descriptors at each stage, and
print one JSON object. Stages: idle, flood held, after the service's idle timeout closed what it
admitted (the client keeps its sockets open until then), after the client closed everything.

usage: flood.py PID PORT CONNECTIONS SOURCES IDLE_TIMEOUT_S
"""
import json, socket, sys, time

pid, port, n, sources, idle = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])

def rss_kib():
    with open(f"/proc/{pid}/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmRSS"))

def fds():
    import os
    return len(os.listdir(f"/proc/{pid}/fd"))

def settle(seconds):
    time.sleep(seconds)  # a measurement pause, not synchronisation

out = {"connections": n, "sources": sources}
settle(1)
out["idle"] = {"rss_kib": rss_kib(), "fds": fds()}
socks = []
t0 = time.monotonic()
for i in range(n):
    s = socket.socket()
    s.bind((f"127.0.0.{2 + i % sources}", 0))
    s.setblocking(True)
    try:
        s.connect(("127.0.0.1", port))
    except OSError as e:
        out.setdefault("connect_errors", 0)
        out["connect_errors"] += 1
    socks.append(s)
out["connect_seconds"] = round(time.monotonic() - t0, 1)
settle(2)
out["flood"] = {"rss_kib": rss_kib(), "fds": fds()}
# Wait past the service's idle timeout: it closes what it admitted.
settle(idle + 3)
out["after_idle_timeout"] = {"rss_kib": rss_kib(), "fds": fds()}
for s in socks:
    s.close()
settle(2)
out["after_close"] = {"rss_kib": rss_kib(), "fds": fds()}
print(json.dumps(out))
