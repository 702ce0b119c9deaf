#!/usr/bin/env python3
"""Provisioning flows on two selfprov nodes behind Kamailio, against one embedded node, same run.

    benches/cluster/run.py [--phones 1000] [--rate 80] [--out DIR] [--only embedded|cluster]

Builds selfprov and selfprov-loadgen (release), then runs the same whole provisioning flows
(`selfprov-loadgen --provision`: each new phone fetches its file — auto-registration —,
REGISTERs with digest, calls the route point, types its ID, PIN and 1 when asked, and is
provisioned when its NOTIFY check-sync arrives) twice:

  embedded  one `selfprov serve` on the sample configuration (SQLite, built-in registrar);
  cluster   `scripts/cluster.sh up 2`: PostgreSQL, Kamailio (deploy/kamailio) as registrar and
            proxy, two nodes sharing the database; the phones register and call through
            Kamailio (REGISTER and INVITE challenged there), files from node 1.

Both on a copy of the sample configuration with the per-source limits off (all phones come from
127.0.0.1) and a wide DN range. Measured from outside: flows/s (SUCCESS entries in the audit log
over their time span), REGISTER → 200 as the phones see it (p50/p99; through Kamailio in the
cluster), and CPU seconds per provisioned phone of selfprov (all nodes), Kamailio (every
process of its group) and PostgreSQL (its server and backends), from /proc.

Writes DIR/summary.json (default benches/results/cluster-<UTC time>/) and prints a Markdown
table for docs/benchmarks.md.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
SELFPROV = TARGET / "release" / "selfprov"
LOADGEN = TARGET / "release" / "selfprov-loadgen"
TICKS = os.sysconf("SC_CLK_TCK")
BASE = 15080  # the cluster's ports (scripts/cluster.sh); the embedded node uses the sample's + 10
sys.dont_write_bytecode = True


def _run_load():
    """benches/run-load.py as a module (its name has a dash)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("run_load", REPO / "benches/run-load.py")
    m = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(m)
    return m


# The same limits off as the single-node load runs (all phones come from 127.0.0.1), and DNs
# for thousands of phones.
TUNING = _run_load().LIMITS_OFF + [
    ('dn_range = { start = "1000", end = "1999" }', 'dn_range = { start = "400000", end = "499999" }'),
]


def tuned(extra=()) -> str:
    text = (REPO / "config/selfprov.toml").read_text()
    for a, b in TUNING + list(extra):
        assert a in text, a
        text = text.replace(a, b)
    return text


def stat(pid: int):
    """(utime+stime, cutime+cstime, ppid, pgrp) of a process, in seconds; None if it is gone."""
    try:
        f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return ((int(f[11]) + int(f[12])) / TICKS, (int(f[13]) + int(f[14])) / TICKS, int(f[1]), int(f[2]))


def pids():
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def cpu_of(selfprov_pids, kamailio_pgid=None, postmaster=None) -> dict:
    """CPU seconds so far of each part: processes that exited count through their parent's
    cutime (Kamailio's main process, the postmaster)."""
    out = {"selfprov": sum((stat(p) or (0, 0, 0, 0))[0] for p in selfprov_pids)}
    if kamailio_pgid or postmaster:
        table = {p: s for p in pids() if (s := stat(p))}
        if kamailio_pgid:
            out["kamailio"] = sum(s[0] for s in table.values() if s[3] == kamailio_pgid) + \
                (table.get(kamailio_pgid, (0, 0))[1])
        if postmaster:
            out["postgresql"] = sum(s[0] for p, s in table.items() if p == postmaster or s[2] == postmaster) + \
                (table.get(postmaster, (0, 0))[1])
    return out


def users_and_phones(work: Path, n: int):
    users = ["user_id,first_name,last_name,self_service_id,pin,primary_extension,user_profile"]
    phones = ["SEQUENTIAL"]
    for i in range(n):
        users.append(f"bench{i:05},Bench,User{i},{70000 + i},{20000 + 7 * i},{300000 + i},Standard Employee")
        phones.append(f"SEP{0xC0000000 + i:012X};{70000 + i};{20000 + 7 * i}")
    (work / "users.csv").write_text("\n".join(users) + "\n")
    (work / "phones.csv").write_text("\n".join(phones) + "\n")


def flows(work: Path, cfg: Path, server: str, config_url: str, rate: int, measure) -> dict:
    """Run the load generator; the figures of the run."""
    cli = lambda *a: subprocess.run([str(SELFPROV), "--config", str(cfg), *a], check=True,
                                    capture_output=True, text=True).stdout
    c0, t0 = measure(), time.monotonic()
    r = subprocess.run(
        [str(LOADGEN), "--server", server, "--config-url", config_url, "--provision", str(work / "phones.csv"),
         "--prompts", str(REPO / "prompts"), "--rate", str(rate), "--json", str(work / "loadgen.json"),
         "--csv", str(work / "loadgen.csv")],
        cwd=work, stdout=subprocess.DEVNULL, stderr=open(work / "loadgen.log", "w"), timeout=1800)
    elapsed = time.monotonic() - t0
    c1 = measure()
    gen = json.loads((work / "loadgen.json").read_text())
    audit = json.loads(cli("audit", "--json", "--kind", "claim", "--limit", "10000"))
    ok = sorted(a["time_ms"] for a in audit if a["code"] == "SUCCESS")
    span = (ok[-1] - ok[0]) / 1000 if len(ok) > 1 else 0
    cpu = {k: round(c1[k] - c0[k], 2) for k in c1}
    return {
        "exit": r.returncode, "phones": gen["calls"], "offered_rate": rate, "successful": len(ok),
        "other_outcomes": len(audit) - len(ok), "failed_flows": gen["failed"], "failures": gen["failures"],
        "flows_per_s": round((len(ok) - 1) / span, 1) if span else None,
        "register_to_200_ms": gen["provisioning"]["register_to_200_ms"],
        "invite_to_200_ms": gen["invite_to_200_ms"], "flow_s": gen["provisioning"]["flow_s"],
        "seconds": round(elapsed, 1), "cpu_s": cpu,
        "cpu_ms_per_flow": {k: round(1000 * v / max(len(ok), 1), 2) for k, v in cpu.items()},
    }


def embedded(run: Path, n: int, rate: int) -> dict:
    work = run / "embedded"
    work.mkdir()
    sip, admin, conf = 5090, 8100, 6980
    text = tuned([
        ('listen = "127.0.0.1:5060"', f'listen = "127.0.0.1:{sip}"'),
        ('listen = "127.0.0.1:8080"', f'listen = "127.0.0.1:{admin}"'),
        ('http_listen = "127.0.0.1:6970"', f'http_listen = "127.0.0.1:{conf}"'),
        ('dir = "../prompts"', f'dir = "{REPO / "prompts"}"'),
    ])
    text = re.sub(r'(?m)^data_dir = .*$', f'data_dir = "{work / "var"}"', text)
    text = re.sub(r'(?m)^templates_dir = .*$', f'templates_dir = "{REPO / "config/templates"}"', text)
    text = re.sub(r'(?m)^tftp_listen = .*$', '# tftp_listen: off for the benchmark', text)
    cfg = work / "selfprov.toml"
    cfg.write_text(text)
    cli = lambda *a: subprocess.run([str(SELFPROV), "--config", str(cfg), *a], check=True, capture_output=True)
    cli("demo", "load")
    users_and_phones(work, n)
    cli("import", "users", str(work / "users.csv"))
    log = open(work / "selfprov.log", "w")
    p = subprocess.Popen([str(SELFPROV), "--config", str(cfg), "serve"], stdout=subprocess.DEVNULL, stderr=log,
                         env={**os.environ, "RUST_LOG": "warn,selfprov_service::start=info"})
    try:
        while "selfprov ready" not in (work / "selfprov.log").read_text():
            if p.poll() is not None:
                sys.exit(f"selfprov exited: see {work / 'selfprov.log'}")
            time.sleep(0.05)
        return flows(work, cfg, f"127.0.0.1:{sip}", f"http://127.0.0.1:{conf}", rate, lambda: cpu_of([p.pid]))
    finally:
        p.terminate()
        p.wait(60)


def cluster(run: Path, n: int, rate: int) -> dict:
    work = run / "cluster"
    work.mkdir()
    base_cfg = work / "base.toml"
    base_cfg.write_text(tuned())
    env = {**os.environ, "SELFPROV_CLUSTER_DIR": str(work / "c"), "SELFPROV_CLUSTER_PORT_BASE": str(BASE),
           "SELFPROV_CLUSTER_RTP_PORTS": "4000", "SELFPROV_BIN": str(SELFPROV),
           "SELFPROV_CLUSTER_CONFIG": str(base_cfg),
           # The benchmark logs at warn; scripts/cluster.sh waits for the ready line (info).
           "RUST_LOG": "warn,selfprov_service::start=info"}
    script = str(REPO / "scripts/cluster.sh")
    try:
        # (down also stops what a failed `up` left running)
        subprocess.run([script, "up", "2"], env=env, check=True, stdout=open(work / "cluster-up.log", "w"))
        c = work / "c"
        cfg = c / "node-1/selfprov.toml"
        users_and_phones(work, n)
        subprocess.run([str(SELFPROV), "--config", str(cfg), "import", "users", str(work / "users.csv")],
                       check=True, capture_output=True)
        nodes = [int((c / f"node-{i}.pid").read_text()) for i in (1, 2)]
        kam = int((c / "kamailio.pid").read_text())
        pm = int((c / "pg/data/postmaster.pid").read_text().split()[0])
        # Files from node 1 (either node serves any phone's file: the database is shared).
        return flows(work, cfg, f"127.0.0.1:{BASE}", f"http://127.0.0.1:{BASE + 201}", rate,
                     lambda: cpu_of(nodes, kam, pm))
    finally:
        subprocess.run([script, "down"], env=env, stdout=open(work / "cluster-down.log", "w"))


def table(res: dict) -> str:
    L = ["| form | phones | provisioned | flows/s | REGISTER→200 p50 / p99 (ms) | INVITE→200 p99 (ms) | CPU ms per flow: selfprov | Kamailio | PostgreSQL |",
         "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, label in [("embedded", "1 node, SQLite, built-in registrar"), ("cluster", "2 nodes + Kamailio + PostgreSQL")]:
        r = res.get(name)
        if not r:
            continue
        c = r["cpu_ms_per_flow"]
        L.append(f"| {label} | {r['phones']} | {r['successful']} | **{r['flows_per_s']}** | "
                 f"{r['register_to_200_ms']['p50']:.2f} / {r['register_to_200_ms']['p99']:.2f} | "
                 f"{r['invite_to_200_ms']['p99']:.2f} | {c['selfprov']} | {c.get('kamailio', '—')} | {c.get('postgresql', '—')} |")
    return "\n".join(L)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    # (the audit is read in one page of at most 10,000 claims)
    ap.add_argument("--phones", type=int, default=1000)
    ap.add_argument("--rate", type=int, default=80, help="new phones started per second")
    ap.add_argument("--out", type=Path)
    ap.add_argument("--only", choices=["embedded", "cluster"])
    a = ap.parse_args()
    if a.phones > 10000:
        ap.error("--phones: at most 10000")
    subprocess.run(["cargo", "build", "--release", "--locked", "-p", "selfprov", "-p", "selfprov-loadgen"],
                   cwd=REPO, check=True)
    run = a.out or REPO / "benches/results" / time.strftime("cluster-%Y-%m-%dT%H-%M-%SZ", time.gmtime())
    run.mkdir(parents=True, exist_ok=True)
    res = {"phones": a.phones, "rate": a.rate, "cores": os.cpu_count()}
    if a.only != "cluster":
        res["embedded"] = embedded(run, a.phones, a.rate)
    if a.only != "embedded":
        res["cluster"] = cluster(run, a.phones, a.rate)
    (run / "summary.json").write_text(json.dumps(res, indent=1))
    print(json.dumps(res, indent=1))
    print(table(res))


if __name__ == "__main__":
    main()
