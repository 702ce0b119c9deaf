#!/usr/bin/env python3
"""INVITE -> final response time per call, measured on the wire (independent of SIPp's clock).

    tshark -i lo -f "udp port 5070" -w /tmp/flood.pcap &      # then run the SIPp script
    benches/sipp/wire-latency.py /tmp/flood.pcap [--port 5070]

Reads the capture with tshark, pairs each INVITE transaction (Call-ID and CSeq number: the
scripts' phones send a challenged INVITE, then the authenticated one) with its first final
response and prints, for answered (200), challenged (401/407) and refused (any other final
status) INVITEs, the count, p50, p99, p99.9, max (ms) and how many took longer than 5 ms.
"""
import subprocess
import sys


def main():
    args = sys.argv[1:]
    if not args or args[0].startswith("-"):
        sys.exit(__doc__)
    port = args[args.index("--port") + 1] if "--port" in args else "5070"
    out = subprocess.run(
        ["tshark", "-r", args[0], "-d", f"udp.port=={port},sip", "-Y", "sip", "-T", "fields",
         "-E", "separator=;", "-e", "frame.time_epoch", "-e", "sip.Call-ID", "-e", "sip.Method",
         "-e", "sip.Status-Code", "-e", "sip.CSeq.method", "-e", "sip.CSeq.seq"],
        check=True, capture_output=True, text=True).stdout
    invited, done = {}, set()
    res = {"answered": [], "challenged": [], "refused": []}
    for line in out.splitlines():
        t, cid, method, code, cseq, seq = line.split(";")
        key = (cid, seq)
        if method == "INVITE":
            invited.setdefault(key, float(t))
        elif code and cseq == "INVITE" and key in invited and int(code) >= 200 and key not in done:
            done.add(key)
            kind = "answered" if code == "200" else "challenged" if code in ("401", "407") else "refused"
            res[kind].append((float(t) - invited[key]) * 1000)
    for kind, v in res.items():
        if not v:
            continue
        v.sort()
        n = len(v)
        q = lambda p: v[min(n - 1, int(n * p))]
        print(f"{kind}: {n} INVITEs, p50 {q(0.5):.3f} ms, p99 {q(0.99):.3f} ms, p99.9 {q(0.999):.3f} ms, "
              f"max {v[-1]:.3f} ms, {sum(1 for x in v if x > 5)} over 5 ms")


if __name__ == "__main__":
    main()
