"""Turns the raw wrk outputs of bench/http_bench.sh into bench/RESULTS.md (medians and ratios)."""
import os
import statistics
import sys

from wrkstats import machine_lines, medians

out, duration, rounds, rss_kb, ready_100k, ready_default = sys.argv[1:7]


def median_of(name):
    return medians(out, name)


size = os.path.getsize(os.path.join(out, "www", "single.json")), os.path.getsize(os.path.join(out, "www", "list.json"))

print("# Benchmark results\n")
print("\n".join(machine_lines()))
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
