"""Turns the raw wrk outputs of bench/http_bench.sh into bench/RESULTS.md (medians and ratios)."""
import datetime
import glob
import os
import platform
import re
import statistics
import subprocess
import sys

out, duration, rounds, rss_kb, ready_100k, ready_default = sys.argv[1:7]


def to_ms(text):
    m = re.match(r"([\d.]+)(us|ms|s)", text)
    value, unit = float(m.group(1)), m.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


def parse(path):
    text = open(path).read()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    lat = {p: to_ms(v) for p, v in re.findall(r"^\s+(50|99)%\s+(\S+)", text, re.M)}
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    return rps, lat["50"], lat["99"], int(errors.group(1)) if errors else 0


def median_of(name):
    runs = [parse(p) for p in sorted(glob.glob(os.path.join(out, f"wrk-{name}-*.txt")))]
    return (statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs),
            statistics.median(r[2] for r in runs), sum(r[3] for r in runs), len(runs))


cpu = "unknown"
for line in open("/proc/cpuinfo"):
    if line.startswith("model name"):
        cpu = line.split(":", 1)[1].strip()
        break
commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
size = os.path.getsize(os.path.join(out, "www", "single.json")), os.path.getsize(os.path.join(out, "www", "list.json"))

print("# Benchmark results\n")
print(f"- date: {datetime.datetime.utcnow().strftime('%Y-%m-%d %H:%M UTC')}; commit {commit or 'uncommitted'}")
print(f"- machine: {os.cpu_count()} cores, {cpu}, {platform.platform()}")
print(f"- command: `bench/http_bench.sh {duration} {rounds}` (wrk -t2 -c64 -d{duration}s --latency, "
      f"{rounds} rounds, medians; o2gw and nginx share the same 2 cores with wrk)")
print(f"- o2gw: release preset, simulator 10 pools x 1,000 resources, access log off, threads = cores")
print(f"- nginx: Debian nginx-light, 2 workers, serving the bytes o2gw returned ({size[0]} B single, {size[1]} B list)\n")
print("| request | o2gw req/s | nginx req/s | o2gw/nginx | o2gw p50 ms | o2gw p99 ms | nginx p99 ms | non-2xx |")
print("|---|---|---|---|---|---|---|---|")
for label, key in (("single resource GET", "single"), ("one pool's resources (1,000)", "list")):
    o, n = median_of(f"o2gw-{key}"), median_of(f"nginx-{key}")
    print(f"| {label} | {o[0]:.0f} | {n[0]:.0f} | {o[0] / n[0]:.2f} | {o[1]:.2f} | {o[2]:.2f} | {n[2]:.2f} | {o[3] + n[3]} |")
ready = [int(x) for x in ready_default.split() if x]
print()
print(f"- RSS with 100,000 simulated resources (after first sync and one list): {int(rss_kb) / 1024:.0f} MB "
      f"(ready in {ready_100k} ms)")
print(f"- time to ready on the embedded default (no flags), 5 starts: median {statistics.median(ready):.0f} ms "
      f"(all: {', '.join(map(str, ready))} ms)")
