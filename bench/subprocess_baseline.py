"""What a Python user would do instead of kled: subprocess.

Prints JSON: p50/p99 of subprocess.run(["true"]) over N runs, and the
throughput of capturing BYTES of stdout with capture_output=True.
Usage: python3 subprocess_baseline.py N BYTES REPEATS
"""
import json
import subprocess
import sys
import time


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))]


def main():
    n, size, repeats = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    for _ in range(20):
        subprocess.run(["true"])
    times = []
    for _ in range(n):
        t = time.perf_counter()
        subprocess.run(["true"])
        times.append(time.perf_counter() - t)
    rates = []
    for _ in range(repeats):
        t = time.perf_counter()
        r = subprocess.run(["head", "-c", str(size), "/dev/zero"], capture_output=True)
        dt = time.perf_counter() - t
        assert len(r.stdout) == size
        rates.append(size / dt / 1e6)
    print(json.dumps({"p50_us": pct(times, 0.5) * 1e6, "p99_us": pct(times, 0.99) * 1e6, "mb_s": sorted(rates)[len(rates) // 2]}))


if __name__ == "__main__":
    main()
