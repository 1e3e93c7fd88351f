"""Summarises bench/query_bench.sh's wrk runs into bench/QUERY_RESULTS.md (medians)."""
import sys

from wrkstats import machine_lines, medians

out, duration, rounds, rss_kb, filt, cold_s = sys.argv[1:7]


def med(name):
    return medians(out, name)


print("# Query benchmark results\n")
print("\n".join(machine_lines()))
print(f"- command: `bench/query_bench.sh {duration} {rounds}`; medians of {rounds} rounds of wrk -d{duration}s")
print("- o2gw release build; simulator: one pool of 100,000 resources; wrk shares the 2 cores")
print(f"- filtered: `filter={filt}&sort=-description&limit=100`\n")
print("| request | c=1 req/s | c=1 p50 ms | c=1 p99 ms | c=16 req/s | c=16 p99 ms | non-2xx |")
print("|---|---|---|---|---|---|---|")
for label, name in (("filtered, sorted page of 100", "filtered"), ("unfiltered page of 100", "unfiltered"),
                    ("single resource GET", "single")):
    a, b = med(f"{name}-c1"), med(f"{name}-c16")
    print(f"| {label} | {a[0]:.0f} | {a[1]:.2f} | {a[2]:.2f} | {b[0]:.0f} | {b[2]:.2f} | {a[3] + b[3]} |")
print(f"\n- aim: filtered page < 5 ms p99 (c=1 column). The first filtered request after start (or after any "
      f"change to the pool) builds the attribute columns: {float(cold_s) * 1000:.0f} ms here, measured once with curl.")
print(f"- RSS at the end: {int(rss_kb) / 1024:.0f} MB")
