#!/usr/bin/env python3
"""Boot storm: N phones fetch their first configuration file at once.

    benches/config-fetch/storm.py HOST:PORT N [--prefix 0D] [--reboot]

N new Cisco phones (SEP<prefix><10 hex digits>), each its own TCP connection, all opened at once
(asyncio, one thread), each GETs `/SEP<MAC>.cnf.xml` with no credentials: the configuration
server auto-registers every one of them (a database write each) and serves its file with its new
credentials. With --reboot the same phones (already known) come back as a phone does after a
restart: GET without credentials, 401, GET again with its digest answer (MD5, as the phones'
firmware does) - then two requests per phone.

With --register SIPHOST:PORT each phone, once it has its file, does what it does next: REGISTERs
over UDP from its own socket as the line its file names (`<line>`'s `<name>`, `authName`,
`authPassword`), answers the 401 with its MD5 digest, and counts as back on its line at the 200.
UDP retransmissions as RFC 3261's timer E (500 ms doubling, at most 4 s apart, 32 s in all).

Prints one JSON line: phones, how many got their file (200), other statuses, time from the
first connection to the last file, files/s over that time, this client's own CPU time (it is one
Python thread: near the wall time, the client is the limit), and per-phone latency p50/p99/max
(first connection opened to file received, ms). With --register also: how many registered, the
time from the first connection to the last phone registered, and per-phone p50/p99/max from its
first connection to its REGISTER's 200.
"""

import argparse
import asyncio
import json
import os
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


class Udp(asyncio.DatagramProtocol):
    """One phone's SIP socket: the answers it receives, in a queue."""

    def __init__(self):
        self.answers = asyncio.Queue()

    def datagram_received(self, data, addr):
        self.answers.put_nowait(data.decode(errors="replace"))


async def transaction(transport, proto, request, call_id, cseq):
    """Send `request`, retransmitting as timer E does, until a final answer for (Call-ID, CSeq):
    (status, answer text), or (None, None) after 32 s."""
    deadline, interval = time.monotonic() + 32, 0.5
    while time.monotonic() < deadline:
        transport.sendto(request)
        until = min(deadline, time.monotonic() + interval)
        while (left := until - time.monotonic()) > 0:
            try:
                a = await asyncio.wait_for(proto.answers.get(), left)
            except asyncio.TimeoutError:
                break
            m = re.match(r"SIP/2.0 (\d{3})", a)
            if m and int(m.group(1)) >= 200 and f"Call-ID: {call_id}" in a and f"CSeq: {cseq} REGISTER" in a:
                return int(m.group(1)), a
        interval = min(interval * 2, 4)
    return None, None


async def register(sip, device, body):
    """REGISTER as the line `body` (the phone's file) names, with its digest; the final status."""
    line = body[body.find("<line "):]
    dn = re.search(r"<name>(.*?)</name>", line)
    user = re.search(r"<authName>(.*?)</authName>", line)
    pw = re.search(r"<authPassword>(.*?)</authPassword>", line)
    if not (dn and user and pw):
        return "no line in the file"
    host, port = sip
    loop = asyncio.get_running_loop()
    transport, proto = await loop.create_datagram_endpoint(Udp, local_addr=("127.0.0.1", 0), remote_addr=(host, port))
    try:
        me = "%s:%d" % transport.get_extra_info("sockname")[:2]
        call_id, uri = f"{device}-{os.urandom(6).hex()}@{me}", f"sip:{host}:{port}"
        auth = ""
        for cseq in (1, 2):
            req = (f"REGISTER {uri} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bK{os.urandom(8).hex()};rport\r\n"
                   f"Max-Forwards: 70\r\nFrom: <sip:{dn.group(1)}@{host}>;tag={os.urandom(4).hex()}\r\n"
                   f"To: <sip:{dn.group(1)}@{host}>\r\nCall-ID: {call_id}\r\nCSeq: {cseq} REGISTER\r\n"
                   f"Contact: <sip:{dn.group(1)}@{me}>\r\nExpires: 3600\r\nUser-Agent: {UA}\r\n{auth}"
                   f"Content-Length: 0\r\n\r\n").encode()
            status, answer = await transaction(transport, proto, req, call_id, cseq)
            if status != 401:
                return status
            ch = next((dict(re.findall(r'(\w+)="?([^",\r]*)"?', l)) for l in answer.split("\r\n")
                       if l.lower().startswith("www-authenticate:")), None)
            if not ch:
                return "401 without a challenge"
            alg = ch.get("algorithm", "MD5").upper()
            auth = f"Authorization: {authorization(user.group(1), pw.group(1), uri, ch, alg, os.urandom(4).hex(), 'REGISTER')}\r\n"
        return status
    finally:
        transport.close()


async def phone(host, port, device, passwords, reboot, sip):
    path = f"/{device}.cnf.xml"
    t0 = time.monotonic()
    try:
        status, head, body = await get(host, port, path)
        if reboot and status == 401:
            auth = digest(device, passwords.get(device, ""), path, head)
            status, head, body = await get(host, port, path, auth)
    except OSError as e:
        return device, f"error: {e.__class__.__name__}", time.monotonic() - t0, None, None
    fetched = time.monotonic() - t0
    registered = None
    if sip and status == 200:
        r = await register(sip, device, body)
        registered = (r, time.monotonic() - t0)
    pw = re.search(r"<authPassword>(.*?)</authPassword>", body)
    return device, status, fetched, pw and pw.group(1), registered


async def storm(host, port, devices, passwords, reboot, sip):
    t0 = time.monotonic()
    res = await asyncio.gather(*(phone(host, port, d, passwords, reboot, sip) for d in devices))
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
    ap.add_argument("--register", metavar="SIPHOST:PORT", help="then REGISTER over UDP with the file's line")
    a = ap.parse_args()
    host, port = a.server.rsplit(":", 1)
    sip = None
    if a.register:
        h, p = a.register.rsplit(":", 1)
        sip = (h, int(p))
        # A TCP connection and a UDP socket per phone.
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    devices = [f"SEP{a.prefix}{i:010X}" for i in range(a.n)]
    passwords = {}
    if a.passwords:
        passwords = dict(l.split(";", 1) for l in open(a.passwords).read().split())
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    res, wall = asyncio.run(storm(host, int(port), devices, passwords, a.reboot, sip))
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    # This client is one Python thread: when its CPU time nears the wall time, it is the limit.
    client_cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    ok = sorted(t * 1000 for _, s, t, _, _ in res if s == 200)
    last_file = max((t for _, s, t, _, _ in res if s == 200), default=wall)
    other = {}
    for _, s, _, _, _ in res:
        if s != 200:
            other[str(s)] = other.get(str(s), 0) + 1
    if a.save:
        with open(a.save, "w") as f:
            f.write("".join(f"{d};{pw}\n" for d, s, _, pw, _ in res if s == 200 and pw))
    spread = lambda v: {"p50": round(pct(v, 0.5), 1), "p99": round(pct(v, 0.99), 1), "max": round(v[-1], 1)} if v else None
    out = {"phones": a.n, "reboot": a.reboot, "served": len(ok), "other": other,
           "time_to_last_s": round(last_file, 3), "files_per_s": round(len(ok) / last_file, 1),
           "client_cpu_s": round(client_cpu, 2), "latency_ms": spread(ok)}
    if sip:
        regs = [r for *_, r in res if r]
        done = sorted(t * 1000 for s, t in regs if s == 200)
        refused = {}
        for s, _ in regs:
            if s != 200:
                refused[str(s)] = refused.get(str(s), 0) + 1
        out |= {"registered": len(done), "not_registered": refused,
                "time_to_last_registered_s": round(done[-1] / 1000, 3) if done else None,
                "registered_ms": spread(done)}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
