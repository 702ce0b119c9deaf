#!/usr/bin/env python3
"""Boot storm: N phones fetch their first configuration file at once.

    benches/config-fetch/storm.py HOST:PORT N [--prefix 0D] [--reboot]

N new Cisco phones (SEP<prefix><10 hex digits>), each its own TCP connection, all opened at once
(asyncio, one thread), each GETs `/SEP<MAC>.cnf.xml` with no credentials: the configuration
server auto-registers every one of them (a database write each) and serves its file with its new
credentials. With --reboot the same phones (already known) come back as a phone does after a
restart: GET without credentials, 401, GET again with its digest answer (MD5, as the phones'
firmware does) - then two requests per phone.

Prints one JSON line: phones, how many got their file (200), other statuses, time from the
first connection to the last file, files/s over that time, this client's own CPU time (it is one
Python thread: near the wall time, the client is the limit), and per-phone latency p50/p99/max
(first connection opened to file received, ms).
"""

import argparse
import asyncio
import json
import re
import resource
import sys
import time

sys.dont_write_bytecode = True
from authorizations import authorization  # noqa: E402

UA = "Cisco-CP8845/14.2.1 selfprov-bench"


async def get(host, port, path, auth=None):
    """(status, headers text, body) of one GET on its own connection."""
    r, w = await asyncio.open_connection(host, port)
    extra = f"Authorization: {auth}\r\n" if auth else ""
    w.write(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: {UA}\r\n{extra}Connection: close\r\n\r\n".encode())
    await w.drain()
    data = await r.read()
    w.close()
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/") else 0
    return status, head.decode(errors="replace"), body.decode(errors="replace")


def digest(user, password, path, challenge_head):
    """The MD5 answer to the MD5 challenge among the 401's WWW-Authenticate headers."""
    ch = next((dict(re.findall(r'(\w+)="?([^",\r]*)"?', l)) for l in challenge_head.split("\r\n")
               if l.lower().startswith("www-authenticate:") and "MD5" in l), None)
    return ch and authorization(user, password, path, ch, "MD5", "0a4f113b")


async def phone(host, port, device, passwords, reboot):
    path = f"/{device}.cnf.xml"
    t0 = time.monotonic()
    try:
        status, head, body = await get(host, port, path)
        if reboot and status == 401:
            auth = digest(device, passwords.get(device, ""), path, head)
            status, head, body = await get(host, port, path, auth)
    except OSError as e:
        return device, f"error: {e.__class__.__name__}", time.monotonic() - t0, None
    pw = re.search(r"<authPassword>(.*?)</authPassword>", body)
    return device, status, time.monotonic() - t0, pw and pw.group(1)


async def storm(host, port, devices, passwords, reboot):
    t0 = time.monotonic()
    res = await asyncio.gather(*(phone(host, port, d, passwords, reboot) for d in devices))
    return res, time.monotonic() - t0


def pct(v, p):
    return v[min(len(v) - 1, int(len(v) * p))] if v else None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("server", help="HOST:PORT of the configuration server")
    ap.add_argument("n", type=int)
    ap.add_argument("--prefix", default="0D")
    ap.add_argument("--passwords", help="with --reboot: the file the first storm's --save wrote")
    ap.add_argument("--save", help="write device;password of every phone served to this file")
    ap.add_argument("--reboot", action="store_true")
    a = ap.parse_args()
    host, port = a.server.rsplit(":", 1)
    devices = [f"SEP{a.prefix}{i:010X}" for i in range(a.n)]
    passwords = {}
    if a.passwords:
        passwords = dict(l.split(";", 1) for l in open(a.passwords).read().split())
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    res, wall = asyncio.run(storm(host, int(port), devices, passwords, a.reboot))
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    # This client is one Python thread: when its CPU time nears the wall time, it is the limit.
    client_cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    ok = sorted(t * 1000 for _, s, t, _ in res if s == 200)
    other = {}
    for _, s, _, _ in res:
        if s != 200:
            other[str(s)] = other.get(str(s), 0) + 1
    if a.save:
        with open(a.save, "w") as f:
            f.write("".join(f"{d};{pw}\n" for d, s, _, pw in res if s == 200 and pw))
    print(json.dumps({"phones": a.n, "reboot": a.reboot, "served": len(ok), "other": other,
                      "time_to_last_s": round(wall, 3), "files_per_s": round(len(ok) / wall, 1),
                      "client_cpu_s": round(client_cpu, 2),
                      "latency_ms": {"p50": round(pct(ok, 0.5), 1), "p99": round(pct(ok, 0.99), 1),
                                     "max": round(ok[-1], 1)} if ok else None}))


if __name__ == "__main__":
    main()
