#!/usr/bin/env python3
"""Benchmark runner: selfprov under rising load, measured from the outside.

    benches/run-load.py [--quick] [--steps silent:1000,silent:5000,duplex:2500] [--hold 30]

Builds selfprov and selfprov-loadgen in release mode, then for each step starts selfprov on a
tuned copy of the sample configuration (logs at warn, 10 min first-digit timeout so silent
callers are not hung up, max_calls 20000, its own data directory), runs the load generator,
samples selfprov's CPU (user + system, /proc/PID/stat) and resident memory (/proc/PID/status)
every 0.25 s, and stops selfprov. Also measures start-to-ready (cold: empty prompt cache, and
warm) and runs the SIPp scripts (calls per second, INVITE -> 200 at 500 calls/s, flood).

Writes benches/results/<UTC time>/ (every raw file), benches/results/latest.json, PNG plots in
docs/img/, and the "Load" section of docs/benchmarks.md between its markers.
"""

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
SELFPROV = TARGET / "release" / "selfprov"
LOADGEN = TARGET / "release" / "selfprov-loadgen"
SIP_PORT, ADMIN_PORT = 5070, 8090
CONFIG_URL = "http://127.0.0.1:6970"  # the sample configuration's configuration server
sys.dont_write_bytecode = True
sys.path.insert(0, str(REPO / "benches/sipp"))
import phones  # noqa: E402  (benches/sipp/phones.py: phones' credentials from their files)
TICKS = os.sysconf("SC_CLK_TCK")


# Every benchmark phone comes from 127.0.0.1 (benches/sipp/phones.py, the load generator): the
# per-source limits and the rate of new devices would measure themselves, not the service
# (docs/security.md). Also used by benches/cluster/run.py.
LIMITS_OFF = [
    ("unknown_per_minute = 60", "unknown_per_minute = 1000000"),
    ("rate_limit_register = 10", "rate_limit_register = 0"),
    ("rate_limit_invite = 10", "rate_limit_invite = 0"),
    ("rate_limit_options = 10", "rate_limit_options = 0"),
    ("rate_limit_other = 20", "rate_limit_other = 0"),
    ("new_devices_per_second = 10", "new_devices_per_second = 0"),
    ("max_connections_per_source = 32", "max_connections_per_source = 256"),
    ("max_connections_per_source = 64", "max_connections_per_source = 512"),
    ('level = "info"', 'level = "warn"'),
    ("max_calls = 10000", "max_calls = 20000"),
]


def config(work: Path, extra=None) -> Path:
    text = (REPO / "config/selfprov.toml").read_text()
    for a, b in [
        ('listen = "127.0.0.1:5060"', f'listen = "127.0.0.1:{SIP_PORT}"'),
        ('listen = "127.0.0.1:8080"', f'listen = "127.0.0.1:{ADMIN_PORT}"'),
        ('dir = "../prompts"', f'dir = "{REPO / "prompts"}"'),
        ('first_digit_timeout = "10s"', 'first_digit_timeout = "10m"'),
    ] + LIMITS_OFF + (extra or []):
        assert a in text, a
        text = text.replace(a, b)
    p = work / "selfprov.toml"
    p.write_text(text)
    return p


class Service:
    """selfprov serve, started and waited for; stopped (and reaped) on exit."""

    def __init__(self, cfg: Path, log: Path):
        self.log = log
        t0 = time.monotonic()
        self.p = subprocess.Popen(
            [str(SELFPROV), "--config", str(cfg), "serve"],
            stderr=open(log, "w"),
            stdout=subprocess.DEVNULL,
            env={**os.environ, "RUST_LOG": "warn,selfprov_service::start=info"},
        )
        while "selfprov ready" not in log.read_text():
            if self.p.poll() is not None:
                sys.exit(f"selfprov exited:\n{log.read_text()}")
            time.sleep(0.002)
        self.ready_ms = (time.monotonic() - t0) * 1000

    def cpu_s(self) -> float:
        f = Path(f"/proc/{self.p.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(f[11]) + int(f[12])) / TICKS

    def rss_kib(self) -> int:
        m = re.search(r"VmRSS:\s+(\d+)", Path(f"/proc/{self.p.pid}/status").read_text())
        return int(m.group(1)) if m else 0

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(60)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.stop()


def sample(svc: Service, proc: subprocess.Popen, every=0.25):
    """(t, cpu seconds, rss KiB) until `proc` exits."""
    out = []
    while proc.poll() is None:
        out.append((time.monotonic(), svc.cpu_s(), svc.rss_kib(), proc_cpu_s(proc.pid)))
        time.sleep(every)
    return out


def proc_cpu_s(pid: int) -> float:
    try:
        f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(f[11]) + int(f[12])) / TICKS
    except (OSError, IndexError):
        return 0.0


def load_step(run: Path, kind: str, calls: int, rate: float, hold: float) -> dict:
    work = run / f"{kind}-{calls}"
    work.mkdir()
    cfg = config(work)
    with Service(cfg, work / "selfprov.log") as svc:
        time.sleep(0.5)
        idle_rss = svc.rss_kib()
        args = [str(LOADGEN), "--server", f"127.0.0.1:{SIP_PORT}", "--calls", str(calls),
                "--rate", str(rate), "--hold", f"{hold}s", "--prompts", str(REPO / "prompts"),
                "--dtmf-probe", "--json", str(work / "loadgen.json"), "--csv", str(work / "calls.csv")]
        if kind == "duplex":
            args.append("--duplex")
        t0 = time.monotonic()
        lg = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=open(work / "loadgen.log", "w"))
        samples = sample(svc, lg)
        lg.wait()
    summary = json.loads((work / "loadgen.json").read_text())
    # Steady state: every call up, prompts playing or silence streaming; skip 3 s at each end.
    lo, hi = t0 + calls / rate + 3, t0 + calls / rate + hold - 3
    win = [s for s in samples if lo <= s[0] <= hi]
    cpu_pct = mem_per_call = lg_cpu = None
    if len(win) >= 2:
        cpu_pct = 100 * (win[-1][1] - win[0][1]) / (win[-1][0] - win[0][0])
        # The load generator's own CPU: near 100 % it is late itself, and part of the deviation
        # it measures is its own.
        lg_cpu = 100 * (win[-1][3] - win[0][3]) / (win[-1][0] - win[0][0])
        mem_per_call = (max(s[2] for s in win) - idle_rss) / calls
    peak = max((s[2] for s in samples), default=0)
    return {
        "kind": kind, "calls": calls, "rate": rate, "hold_s": hold,
        "loadgen": summary, "selfprov_cpu_pct": cpu_pct, "loadgen_cpu_pct": lg_cpu,
        "cpu_pct_per_call": cpu_pct / calls if cpu_pct is not None else None,
        "idle_rss_kib": idle_rss, "peak_rss_kib": peak, "kib_per_call": mem_per_call,
        "samples": [(round(t - t0, 3), c, r) for t, c, r, _ in samples],
    }


def floor_step(run: Path, streams: int, hold: float = 10.0) -> dict:
    """The loopback kernel floor in the same run: selfprov-loadgen --floor, a bare sendmmsg sender
    thread to `streams` receiving sockets, measured like a load step."""
    work = run / f"floor-{streams}"
    work.mkdir()
    subprocess.run([str(LOADGEN), "--floor", "--calls", str(streams), "--hold", f"{hold}s",
                    "--json", str(work / "floor.json")], stdout=subprocess.DEVNULL, check=True, timeout=600)
    return json.loads((work / "floor.json").read_text())


def startup(run: Path) -> dict:
    work = run / "startup"
    work.mkdir()
    cfg = config(work)
    out = {}
    for label in ["cold", "warm", "warm2"]:
        with Service(cfg, work / f"{label}.log") as svc:
            out[label] = round(svc.ready_ms, 1)
    return out


def sipp(work: Path, scenario: str, args: list) -> dict:
    """Run a SIPp script from 200 new phones, with their credentials (fetched here, which
    auto-registers them); its summary counters and response-time repartition."""
    inf = work / "phones.csv"
    inf.write_text("\n".join(phones.with_passwords(CONFIG_URL, ["SEQUENTIAL"] + phones.new_devices(200, "0A"))) + "\n")
    r = subprocess.run(
        ["sipp", f"127.0.0.1:{SIP_PORT}", "-sf", str(REPO / "benches/sipp" / scenario), "-s", "2000",
         "-i", "127.0.0.1", "-p", "5071", "-mp", "30000", "-nostdin", "-trace_stat", "-fd", "1",
         "-trace_rtt", "-rtt_freq", "1", "-inf", str(inf), *args],
        cwd=work, capture_output=True, text=True, timeout=900)
    stat = sorted(work.glob("*_.csv")) or sorted(work.glob("*_stat.csv"))
    rtt = sorted(work.glob("*_rtt.csv"))
    out = {"exit": r.returncode}
    if stat:
        rows = [l.split(";") for l in stat[-1].read_text().splitlines()]
        head, last = rows[0], rows[-1]
        col = {h: i for i, h in enumerate(head)}
        for k in ["SuccessfulCall(C)", "FailedCall(C)", "CallRate(C)", "TotalCallCreated"]:
            if k in col:
                out[k] = last[col[k]]
    if rtt:
        vals = {}
        # Date_ms;response_time_ms;rtd_no (SIPp's resolution is 1 ms).
        for l in rtt[-1].read_text().splitlines()[1:]:
            f = l.split(";")
            if len(f) >= 3:
                vals.setdefault(f[2].strip(), []).append(float(f[1]))
        for name, v in vals.items():
            v.sort()
            out[f"rtt_{name}_ms"] = {"n": len(v), "p50": v[len(v) // 2], "p99": v[min(len(v) - 1, int(len(v) * 0.99))], "max": v[-1]}
    return out


def sipp_steps(run: Path, quick: bool) -> dict:
    res = {}
    for name, scen, args, extra in [
        ("cps", "setup_teardown.xml", ["-r", "1500", "-m", "9000" if quick else "45000", "-l", "3000"], []),
        ("invite_500cps", "setup_teardown.xml", ["-r", "500", "-m", "5000" if quick else "15000", "-l", "2000"], []),
        ("flood", "flood.xml", ["-d", "5000", "-r", "2000", "-m", "6000" if quick else "20000", "-l", "20000"],
         [("max_calls = 20000", "max_calls = 1000")]),
    ]:
        work = run / f"sipp-{name}"
        work.mkdir()
        with Service(config(work, extra), work / "selfprov.log") as svc:
            rss0 = svc.rss_kib()
            cpu0 = svc.cpu_s()
            t0 = time.monotonic()
            res[name] = sipp(work, scen, args)
            res[name]["selfprov_cpu_pct"] = 100 * (svc.cpu_s() - cpu0) / (time.monotonic() - t0)
            time.sleep(6)
            res[name]["rss_kib_before_after"] = [rss0, svc.rss_kib()]
    return res


def provisioning_step(run: Path, n: int, rate: int, tool: str = "loadgen") -> dict:
    """Whole provisioning flows for n new phones and n users, started at `rate`/s, driven by the
    load generator (--provision, RFC 4733 from each phone's own socket) or by SIPp (provision.xml
    with play_dtmf, which sends DTMF through raw sockets). The rate of SUCCESS entries in the
    audit log is the result."""
    import socket
    work = run / f"provisioning-{tool}-{rate}"
    work.mkdir()
    cfg = config(work, [('dn_range = { start = "1000", end = "1999" }', 'dn_range = { start = "400000", end = "499999" }')])
    cli = lambda *a: subprocess.run([str(SELFPROV), "--config", str(cfg), *a], check=True,
                                    capture_output=True, text=True).stdout
    cli("demo", "load")
    users = ["user_id,first_name,last_name,self_service_id,pin,primary_extension,user_profile"]
    phones_lines = ["SEQUENTIAL"]
    notify = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    notify.bind(("127.0.0.1", 0))
    port = notify.getsockname()[1]
    # 4-digit IDs and 5-digit PINs: provision.xml types each entry with SIPp's play_dtmf after a
    # fixed pause, and longer entries would still be playing when the next one starts.
    assert n <= 3000, "self-service IDs 7000-9999"
    for i in range(n):
        users.append(f"bench{i:05},Bench,User{i},{7000 + i},{20000 + 7 * i},{300000 + i},Standard Employee")
        phones_lines.append(f"SEP{0xB0000000 + i:012X};{7000 + i};{20000 + 7 * i};{port}")
    (work / "users.csv").write_text("\n".join(users) + "\n")
    (work / "phones.csv").write_text("\n".join(phones_lines) + "\n")
    cli("import", "users", str(work / "users.csv"))
    gen = {}
    with Service(cfg, work / "selfprov.log") as svc:
        cpu0, t0 = svc.cpu_s(), time.monotonic()
        if tool == "sipp":
            # provision.xml answers the registrar's digest: each phone's password, from its file.
            (work / "phones-sipp.csv").write_text("\n".join(phones.with_passwords(CONFIG_URL, phones_lines)) + "\n")
            r = subprocess.run(
                ["sipp", f"127.0.0.1:{SIP_PORT}", "-sf", str(REPO / "benches/sipp/provision.xml"), "-inf",
                 str(work / "phones-sipp.csv"), "-s", "2000", "-i", "127.0.0.1", "-p", "5071", "-mp", "30000",
                 "-r", str(rate), "-m", str(n), "-l", str(n), "-nostdin", "-timeout", "600s", "-trace_stat", "-fd", "1"],
                cwd=work, capture_output=True, text=True, timeout=900)
        else:
            r = subprocess.run(
                [str(LOADGEN), "--server", f"127.0.0.1:{SIP_PORT}", "--provision", str(work / "phones.csv"), "--prompts", str(REPO / "prompts"),
                 "--rate", str(rate), "--json", str(work / "loadgen.json"), "--csv", str(work / "loadgen.csv")],
                cwd=work, stdout=subprocess.DEVNULL, stderr=open(work / "loadgen.log", "w"), timeout=900)
            gen = json.loads((work / "loadgen.json").read_text())
        cpu = 100 * (svc.cpu_s() - cpu0) / (time.monotonic() - t0)
    notify.close()
    # Claims only: administrative changes (the users imported, each auto-registration) are audited too.
    audit = json.loads(cli("audit", "--json", "--kind", "claim", "--limit", str(10 * n)))
    ok = sorted(a["time_ms"] for a in audit if a["code"] == "SUCCESS")
    span = (ok[-1] - ok[0]) / 1000 if len(ok) > 1 else 0
    res = {"tool": tool, "phones": n, "offered_rate": rate, "exit": r.returncode, "successful": len(ok),
           "other_outcomes": len(audit) - len(ok),
           "provisionings_per_s": round((len(ok) - 1) / span, 1) if span else None,
           "selfprov_cpu_pct": round(cpu, 1)}
    if gen:
        p = gen["provisioning"]
        res |= {"notified": p["provisioned"], "register_to_200_ms": p["register_to_200_ms"],
                "invite_to_200_ms": gen["invite_to_200_ms"], "flow_s": p["flow_s"],
                "rtp_lost": gen["rtp_lost"], "deviation_ms": gen["deviation_ms"]}
    return res


def plot(run: Path, steps: list):
    if not shutil.which("gnuplot"):
        print("gnuplot missing: no plots (apt-get install gnuplot-nox)")
        return
    img = REPO / "docs/img"
    img.mkdir(parents=True, exist_ok=True)
    dat = run / "load.dat"
    with open(dat, "w") as f:
        for kind in ["silent", "duplex"]:
            f.write(f"# {kind}\n")
            for s in steps:
                if s["kind"] == kind:
                    d = s["loadgen"]["deviation_ms"]
                    f.write(f"{s['calls']} {d['p50']} {d['p99']} {d['max']} {s['cpu_pct_per_call'] or 0} {s['selfprov_cpu_pct'] or 0}\n")
            f.write("\n\n")
    script = f"""
set terminal pngcairo size 900,500
set grid
set key top left
set xlabel 'concurrent calls'
set output '{img}/latency-vs-calls.png'
set title 'RTP arrival deviation from the 20 ms grid (received by the callers)'
set ylabel 'ms'
plot '{dat}' index 0 using 1:3 with linespoints title 'p99 silent callers', \
     '{dat}' index 1 using 1:3 with linespoints title 'p99 duplex callers', \
     '{dat}' index 0 using 1:2 with linespoints title 'p50 silent', \
     '{dat}' index 1 using 1:2 with linespoints title 'p50 duplex'
set output '{img}/cpu-per-call.png'
set title 'selfprov CPU per call (user + system, % of one core)'
set ylabel '% of a core per call'
plot '{dat}' index 0 using 1:5 with linespoints title 'silent callers', \
     '{dat}' index 1 using 1:5 with linespoints title 'duplex callers'
"""
    subprocess.run(["gnuplot"], input=script, text=True, check=False)


def markdown(res: dict) -> str:
    L = []
    L.append(f"Run {res['when']} on this machine ({os.cpu_count()} cores), selfprov and the load "
             "generator together; command: `benches/run-load.py" + (" --quick" if res["quick"] else "") + "`.\n")
    s = res["startup"]
    L.append(f"**Start to ready** (route point up, prompts loaded): cold (prompt cache empty, every prompt "
             f"encoded in 5 codecs) {s['cold']} ms; warm (prompt cache filled) {s['warm']} / {s['warm2']} ms. Target ≤ 300 ms.\n")
    L.append("| callers | calls | lost | failed | p50 / p99 / max deviation (ms) | INVITE→200 p99 (ms) | INVITE→1st RTP p99 (ms) | `#`→prompt p50 / p99 (ms) | selfprov CPU (% core) | CPU per call (% core) | memory per call (KiB) | load generator CPU (% core) |")
    L.append("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for st in res["steps"]:
        g = st["loadgen"]
        d, i, f, r = g["deviation_ms"], g["invite_to_200_ms"], g["invite_to_first_rtp_ms"], g["dtmf_to_prompt_ms"]
        fmt = lambda v, n=2: "-" if v is None else f"{v:.{n}f}"
        L.append(f"| {st['kind']} | {st['calls']} | {g['rtp_lost']} | {g['failed']} | {d['p50']:.2f} / {d['p99']:.2f} / {d['max']:.2f} | "
                 f"{i['p99']:.2f} | {f['p99']:.1f} | {r['p50']:.1f} / {r['p99']:.1f} | {fmt(st['selfprov_cpu_pct'], 1)} | "
                 f"{fmt(st['cpu_pct_per_call'], 4)} | {fmt(st['kib_per_call'], 1)} | {fmt(st.get('loadgen_cpu_pct'), 0)} |")
    L.append("")
    sp = res.get("sipp", {})
    if sp:
        L.append("| SIPp script | result |")
        L.append("|---|---|")
        for k, v in sp.items():
            rt = {a: b for a, b in v.items() if a.startswith("rtt_")}
            rts = "; ".join(f"{a[4:-3]} p50 {b['p50']:.1f} ms, p99 {b['p99']:.1f} ms, max {b['max']:.1f} ms (n={b['n']})" for a, b in rt.items())
            L.append(f"| {k} | exit {v['exit']}; created {v.get('TotalCallCreated', '?')}, successful {v.get('SuccessfulCall(C)', '?')}, "
                     f"failed {v.get('FailedCall(C)', '?')}, rate {v.get('CallRate(C)', '?')} cps; {rts}; selfprov CPU {v['selfprov_cpu_pct']:.0f}% of a core; "
                     f"RSS before/after {v['rss_kib_before_after'][0]}/{v['rss_kib_before_after'][1]} KiB |")
    pv = res.get("provisioning")
    fl = res.get("floor", {})
    if fl:
        L.append("\n**Kernel floor, same run** (`selfprov-loadgen --floor`: a bare `sendmmsg` sender thread, "
                 "one 20 ms PCMU packet per stream per packet time to that many receiving sockets, nothing else):\n")
        L.append("| streams | kept up | sender µs/packet | sender CPU per stream (% core) | selfprov CPU per silent call (% core) | selfprov / floor | floor p50 / p99 / max deviation (ms) |")
        L.append("|---|---|---|---|---|---|---|")
        for n, f in sorted(fl.items(), key=lambda kv: int(kv[0])):
            sp_call = next((st["cpu_pct_per_call"] for st in res["steps"] if st["kind"] == "silent" and st["calls"] == int(n)), None)
            ratio = "-" if sp_call is None else f"{sp_call / f['sender_cpu_pct_per_stream']:.2f}"
            d = f["deviation_ms"]
            L.append(f"| {n} | {'yes' if f['kept_up'] else 'no (' + str(f['ticks_late']) + ' ticks late)'} | {f['sender_us_per_packet']:.2f} | "
                     f"{f['sender_cpu_pct_per_stream']:.4f} | {'-' if sp_call is None else f'{sp_call:.4f}'} | {ratio} | "
                     f"{d['p50']:.2f} / {d['p99']:.2f} / {d['max']:.2f} |")
    pvs = [v for k, v in res.items() if k.startswith("provisioning")]
    if pvs:
        L.append("\n**Provisioning flows** (new phone registers and is auto-registered, calls, types ID and PIN, "
                 "confirms; SQLite with fully durable commits; result counted from SUCCESS entries in the audit log):\n")
        L.append("| driver | phones | offered /s | provisioned | other outcomes | completed /s | REGISTER→200 p50 / p99 (ms) | flow p50 / p99 (s) | selfprov CPU (% core) |")
        L.append("|---|---|---|---|---|---|---|---|---|")
        for pv in pvs:
            pp = lambda d: "-" if not d else f"{d['p50']:.1f} / {d['p99']:.1f}"
            L.append(f"| {'selfprov-loadgen --provision' if pv['tool'] == 'loadgen' else 'SIPp provision.xml (play_dtmf)'} | {pv['phones']} | "
                     f"{pv['offered_rate']} | {pv['successful']} | {pv['other_outcomes']} | **{pv['provisionings_per_s']}** | "
                     f"{pp(pv.get('register_to_200_ms'))} | {pp(pv.get('flow_s'))} | {pv['selfprov_cpu_pct']} |")
    L.append("\n![latency](img/latency-vs-calls.png)\n\n![cpu](img/cpu-per-call.png)\n")
    return "\n".join(L)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="small steps, short holds (a smoke run)")
    ap.add_argument("--steps", help="kind:calls,... (kind silent or duplex)")
    ap.add_argument("--hold", type=float, default=30.0)
    ap.add_argument("--rate", type=float, default=500.0)
    ap.add_argument("--no-sipp", action="store_true")
    ap.add_argument("--only-provisioning", type=int, metavar="RATE", help="just the provisioning-flow step, at RATE phones/s")
    ap.add_argument("--provisioning-tool", choices=["loadgen", "sipp"], default="loadgen",
                    help="what drives the provisioning flows (default: the load generator)")
    a = ap.parse_args()
    subprocess.run(["cargo", "build", "--release", "--locked", "-q", "-p", "selfprov", "-p", "selfprov-loadgen"],
                   cwd=REPO, check=True)
    steps = a.steps or ("silent:200,duplex:200" if a.quick else
                        "silent:1000,silent:2500,silent:5000,duplex:1000,duplex:2500")
    hold = 10.0 if a.quick and a.hold == 30.0 else a.hold
    when = time.strftime("%Y-%m-%dT%H-%M-%SZ", time.gmtime())
    run = REPO / "benches/results" / when
    run.mkdir(parents=True)
    if a.only_provisioning:
        print(json.dumps(provisioning_step(run, 15 * a.only_provisioning, a.only_provisioning, a.provisioning_tool), indent=1))
        return
    res = {"when": when, "quick": a.quick, "startup": startup(run), "steps": []}
    print("start to ready:", res["startup"], flush=True)
    for st in steps.split(","):
        kind, n = st.split(":")
        r = load_step(run, kind, int(n), a.rate, hold)
        g = r["loadgen"]
        print(f"{kind} {n}: lost {g['rtp_lost']} failed {g['failed']} dev p99 {g['deviation_ms']['p99']} ms, "
              f"cpu {r['selfprov_cpu_pct']} %, {r['kib_per_call']} KiB/call, loadgen cpu {r['loadgen_cpu_pct']} %", flush=True)
        res["steps"].append(r)
        if kind == "silent" and str(n) not in res.setdefault("floor", {}):
            res["floor"][str(n)] = floor_step(run, int(n))
            f = res["floor"][str(n)]
            print(f"floor {n}: {f['sender_us_per_packet']:.2f} us/packet, {f['sender_cpu_pct_per_stream']:.4f} % per stream, "
                  f"kept up {f['kept_up']}, dev p99 {f['deviation_ms']['p99']} ms", flush=True)
    if not a.no_sipp and shutil.which("sipp"):
        res["sipp"] = sipp_steps(run, a.quick)
        print(json.dumps(res["sipp"], indent=1), flush=True)
        for key, n, rate, tool in ([("provisioning", 400, 200, "loadgen")] if a.quick else
                                   [("provisioning", 3000, 200, "loadgen"), ("provisioning-150", 2250, 150, "loadgen"),
                                    ("provisioning-sipp", 750, 50, "sipp")]):
            res[key] = provisioning_step(run, n, rate, tool)
            print(json.dumps(res[key], indent=1), flush=True)
    (run / "results.json").write_text(json.dumps(res, indent=1))
    (REPO / "benches/results/latest.json").write_text(json.dumps({k: v for k, v in res.items() if k != "steps"} |
        {"steps": [{k: v for k, v in s.items() if k != "samples"} for s in res["steps"]]}, indent=1))
    plot(run, res["steps"])
    md = markdown(res)
    (run / "summary.md").write_text(md)
    doc = REPO / "docs/benchmarks.md"
    text = doc.read_text()
    begin, end = "<!-- load:begin -->", "<!-- load:end -->"
    if begin in text and end in text:
        text = text[: text.index(begin) + len(begin)] + "\n" + md + "\n" + text[text.index(end):]
        doc.write_text(text)
    print(md)


if __name__ == "__main__":
    main()
