"""Reading wrk --latency output, shared by the bench summaries."""
import datetime
import glob
import os
import platform
import re
import statistics
import subprocess


def to_ms(text):
    m = re.match(r"([\d.]+)(us|ms|s)", text)
    value, unit = float(m.group(1)), m.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


def parse(path):
    """(requests/s, p50 ms, p99 ms, non-2xx count) of one wrk run."""
    text = open(path).read()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    lat = {p: to_ms(v) for p, v in re.findall(r"^\s+(50|99)%\s+(\S+)", text, re.M)}
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    return rps, lat["50"], lat["99"], int(errors.group(1)) if errors else 0


def medians(out, name):
    """Medians of rps, p50, p99 over the rounds named wrk-<name>-*.txt, the summed non-2xx, and the round count."""
    runs = [parse(p) for p in sorted(glob.glob(os.path.join(out, f"wrk-{name}-*.txt")))]
    return (statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs),
            statistics.median(r[2] for r in runs), sum(r[3] for r in runs), len(runs))


def machine_lines():
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "unknown")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    return [f"- date: {datetime.datetime.utcnow().strftime('%Y-%m-%d %H:%M UTC')}; commit {commit or 'uncommitted'}",
            f"- machine: {os.cpu_count()} cores, {cpu}, {platform.platform()}"]
