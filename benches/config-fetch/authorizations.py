#!/usr/bin/env python3
"""Device files with valid HTTP digest answers, for wrk (benches/config-fetch/fetch.lua).

    benches/config-fetch/authorizations.py CONFIG_URL N OUT [--algorithm SHA-256|MD5] [--prefix 0C]

N new Cisco phones (SEP<prefix><10 hex digits>) each fetch their file once without credentials,
as a new phone does (auto-registration; benches/sipp/phones.py reads `authName`/`authPassword`).
Then one unauthenticated fetch is challenged (401) and, with that nonce, each phone's
`Authorization` for `GET /SEP<MAC>.cnf.xml` is computed (RFC 7616, qop=auth). OUT gets one line
per phone: `path<TAB>Authorization value`.

The service's nonces are stateless (signed issue time, valid 5 minutes) and it keeps no nonce
count, so one answer per phone can be sent again and again for as long as the nonce is fresh:
the server does exactly the work of checking a phone's fresh answer every time.
"""

import argparse
import hashlib
import re
import sys
import urllib.error
import urllib.request
from pathlib import Path

sys.dont_write_bytecode = True
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "sipp"))
import phones  # noqa: E402

HASH = {"SHA-256": hashlib.sha256, "MD5": hashlib.md5}


def challenge(config_url: str, path: str, algorithm: str) -> dict:
    """The server's challenge for `algorithm` (realm, nonce, qop) from a 401 on `path`."""
    req = urllib.request.Request(config_url + path, headers={"User-Agent": phones.USER_AGENT})
    try:
        urllib.request.urlopen(req, timeout=30)
    except urllib.error.HTTPError as e:
        if e.code != 401:
            raise
        for value in e.headers.get_all("WWW-Authenticate") or []:
            params = dict(re.findall(r'(\w+)="?([^",]*)"?', value))
            if params.get("algorithm", "MD5").upper() == algorithm:
                return params
        raise RuntimeError(f"no {algorithm} challenge in {e.headers.get_all('WWW-Authenticate')}")
    raise RuntimeError(f"{path}: served without credentials (expected 401 after the first fetch)")


def authorization(user: str, password: str, path: str, ch: dict, algorithm: str, cnonce: str,
                  method: str = "GET") -> str:
    h = lambda s: HASH[algorithm](s.encode()).hexdigest()
    ha1 = h(f"{user}:{ch['realm']}:{password}")
    ha2 = h(f"{method}:{path}")
    nc = "00000001"
    response = h(f"{ha1}:{ch['nonce']}:{nc}:{cnonce}:auth:{ha2}")
    return (f'Digest username="{user}", realm="{ch["realm"]}", nonce="{ch["nonce"]}", uri="{path}", '
            f'algorithm={algorithm}, qop=auth, nc={nc}, cnonce="{cnonce}", response="{response}"')


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("config_url")
    ap.add_argument("n", type=int)
    ap.add_argument("out")
    ap.add_argument("--algorithm", default="SHA-256", choices=sorted(HASH))
    ap.add_argument("--prefix", default="0C")
    a = ap.parse_args()
    url = a.config_url.rstrip("/")
    try:
        lines = phones.with_passwords(url, phones.new_devices(a.n, a.prefix))
        ch = challenge(url, f"/{lines[0].split(';')[0]}.cnf.xml", a.algorithm)
    except (OSError, RuntimeError) as e:
        sys.exit(f"authorizations.py: {e}")
    with open(a.out, "w") as f:
        for i, line in enumerate(lines):
            device, password = line.split(";")
            path = f"/{device}.cnf.xml"
            f.write(f"{path}\t{authorization(device, password, path, ch, a.algorithm, f'{i:08x}')}\n")
    print(f"authorizations.py: {len(lines)} phones, {a.algorithm} answers in {a.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
