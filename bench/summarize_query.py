"""Summarises bench/query_bench.sh's wrk runs into bench/QUERY_RESULTS.md (medians)."""
import datetime
import glob
import os
import platform
import re
import statistics
import subprocess
import sys

out, duration, rounds, rss_kb, filt = sys.argv[1:6]


def to_ms(text):
    m = re.match(r"([\d.]+)(us|ms|s)", text)
    value, unit = float(m.group(1)), m.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


def parse(path):
    text = open(path).read()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    lat = {p: to_ms(v) for p, v in re.findall(r"^\s+(50|99)%\s+(\S+)", text, re.M)}
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    return rps, lat["50"], lat["99"], int(bad.group(1)) if bad else 0


def med(name):
    runs = [parse(p) for p in sorted(glob.glob(os.path.join(out, f"wrk-{name}-*.txt")))]
    return [statistics.median(r[i] for r in runs) for i in range(3)] + [sum(r[3] for r in runs)]


cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "unknown")
commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
print("# Query benchmark results\n")
print(f"- date: {datetime.datetime.utcnow().strftime('%Y-%m-%d %H:%M UTC')}; commit {commit}")
print(f"- machine: {os.cpu_count()} cores, {cpu}, {platform.platform()}")
print(f"- command: `bench/query_bench.sh {duration} {rounds}`; medians of {rounds} rounds of wrk -d{duration}s")
print("- o2gw release build; simulator: one pool of 100,000 resources; wrk shares the 2 cores")
print(f"- filtered: `filter={filt}&sort=-description&limit=100`\n")
print("| request | c=1 req/s | c=1 p50 ms | c=1 p99 ms | c=16 req/s | c=16 p99 ms | non-2xx |")
print("|---|---|---|---|---|---|---|")
for label, name in (("filtered, sorted page of 100", "filtered"), ("unfiltered page of 100", "unfiltered"),
                    ("single resource GET", "single")):
    a, b = med(f"{name}-c1"), med(f"{name}-c16")
    print(f"| {label} | {a[0]:.0f} | {a[1]:.2f} | {a[2]:.2f} | {b[0]:.0f} | {b[2]:.2f} | {a[3] + b[3]} |")
print(f"\n- aim: filtered page < 5 ms p99 (c=1 column). RSS at the end: {int(rss_kb) / 1024:.0f} MB")
