#!/usr/bin/env python3
"""Phones' credentials for the SIPp scripts, got the way a new phone gets them.

    benches/sipp/phones.py CONFIG_URL OUT.csv --new N [--prefix 0A]
    benches/sipp/phones.py CONFIG_URL OUT.csv --from IN.csv

Each phone fetches its Cisco file (`SEP<MAC>.cnf.xml`) from the configuration server once, with
no credentials: that first fetch auto-registers a new phone and hands it its line, whose
`authName`/`authPassword` the built-in registrar's digest challenge then asks for. The output is
a SIPp injection file (`SEQUENTIAL`, then one line per phone) whose LAST field is the password:

  --new N      N new phones SEP<prefix><10 hex digits>: lines `device;password`
               (setup_teardown.xml, hold.xml, flood.xml read [field0] and [field1]);
  --from FILE  the lines of FILE (`device;...`, a first `SEQUENTIAL` kept), each with `;password`
               appended (provision.xml: `device;self_service_id;pin;contact_port;password`).

The configuration server throttles requests for unknown MACs per source address
(`phone_config.unknown_per_minute`); all these phones come from one address, so the service
running the benchmark needs that limit raised (run.sh does it), as a site would see them from
many addresses.
"""

import argparse
import html
import re
import sys
import urllib.request
from concurrent.futures import ThreadPoolExecutor

USER_AGENT = "Cisco-CP8845/14.2.1 selfprov-bench"


def credentials(config_url: str, device: str) -> tuple:
    """(authName, authPassword) of line 1 of `device`'s Cisco file, fetched without credentials."""
    req = urllib.request.Request(f"{config_url.rstrip('/')}/{device}.cnf.xml",
                                 headers={"User-Agent": USER_AGENT})
    with urllib.request.urlopen(req, timeout=30) as r:
        xml = r.read().decode()
    line = re.search(r'<line button="1".*?</line>', xml, re.S)
    user = line and re.search(r"<authName>(.*?)</authName>", line.group(0))
    password = line and re.search(r"<authPassword>(.*?)</authPassword>", line.group(0))
    if not (user and password):
        raise RuntimeError(f"{device}: no line with credentials in its file")
    return html.unescape(user.group(1)), html.unescape(password.group(1))


def with_passwords(config_url: str, lines: list, threads: int = 8) -> list:
    """`lines` (`device;...`) each with `;password` appended; a `SEQUENTIAL` header is kept."""
    head = [l for l in lines[:1] if l.strip() in ("SEQUENTIAL", "RANDOM", "USER")]
    body = [l for l in lines[len(head):] if l.strip()]

    def one(line):
        device = line.split(";", 1)[0]
        try:
            user, password = credentials(config_url, device)
        except OSError as e:
            raise RuntimeError(f"{device}'s configuration file: {e}") from e
        if user != device:
            raise RuntimeError(f"{device}: its file names another user ({user})")
        if ";" in password or "]" in password or '"' in password:
            # SIPp's injection fields are `;`-separated and [authentication] reads up to `]`/`"`.
            raise RuntimeError(f"{device}: password not usable in a SIPp injection file")
        return f"{line};{password}"

    with ThreadPoolExecutor(threads) as pool:
        return head + list(pool.map(one, body))


def new_devices(n: int, prefix: str) -> list:
    return [f"SEP{prefix}{i:010X}" for i in range(n)]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("config_url")
    ap.add_argument("out")
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--new", type=int, metavar="N")
    g.add_argument("--from", dest="src", metavar="FILE")
    ap.add_argument("--prefix", default="0A", help="first two hex digits of the new phones' MACs")
    a = ap.parse_args()
    if a.new is not None:
        lines = ["SEQUENTIAL"] + new_devices(a.new, a.prefix)
    else:
        lines = open(a.src).read().splitlines()
    try:
        out = with_passwords(a.config_url, lines)
    except (OSError, RuntimeError) as e:
        sys.exit(f"phones.py: {e}")
    with open(a.out, "w") as f:
        f.write("\n".join(out) + "\n")
    print(f"phones.py: {len(out) - 1} phones with their credentials in {a.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
