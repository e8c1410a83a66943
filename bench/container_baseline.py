"""What a user would do instead of kled for containers: the docker Python SDK
(and the podman CLI), against the same engine and image.

Prints one JSON object. Usage:
  container_baseline.py ENDPOINT IMAGE EXEC_RUNS PODMAN_RUNS BYTES BULK BIG_IMAGE
BIG_IMAGE runs the throughput test: busybox's `head` writes 4 KiB at a time
and would measure itself rather than the transport.
"""
import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import docker


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))]


def main():
    endpoint, image = sys.argv[1], sys.argv[2]
    exec_runs, podman_runs, size, bulk = (int(a) for a in sys.argv[3:7])
    big_image = sys.argv[7]
    client = docker.DockerClient(base_url=endpoint, version="1.41")
    out = {}

    def create_start():
        return client.containers.run(image, ["sleep", "3600"], detach=True, labels={"io.kled.bench": "1"})

    # create+start of one container, median of 5
    singles = []
    for _ in range(5):
        t = time.perf_counter()
        c = create_start()
        singles.append(time.perf_counter() - t)
        c.remove(force=True)
    out["create_start_ms"] = sorted(singles)[2] * 1e3

    c = create_start()
    try:
        for _ in range(5):
            c.exec_run(["true"])
        times = []
        for _ in range(exec_runs):
            t = time.perf_counter()
            r = c.exec_run(["true"])
            times.append(time.perf_counter() - t)
            assert r.exit_code == 0
        out["exec_run_p50_ms"] = pct(times, 0.5) * 1e3
        out["exec_run_p99_ms"] = pct(times, 0.99) * 1e3

        times = []
        for _ in range(podman_runs):
            t = time.perf_counter()
            subprocess.run(["podman", "exec", c.id, "true"], check=True)
            times.append(time.perf_counter() - t)
        out["podman_exec_p50_ms"] = pct(times, 0.5) * 1e3
    finally:
        c.remove(force=True)

    c = client.containers.run(big_image, ["sleep", "3600"], detach=True, labels={"io.kled.bench": "1"})
    try:
        rates = []
        for _ in range(3):
            t = time.perf_counter()
            r = c.exec_run(["head", "-c", str(size), "/dev/zero"])
            dt = time.perf_counter() - t
            assert len(r.output) == size, len(r.output)
            rates.append(size / dt / 1e6)
        out["exec_run_mb_s"] = sorted(rates)[1]
    finally:
        c.remove(force=True)

    t = time.perf_counter()
    made = [create_start() for _ in range(bulk)]
    out["bulk_sequential_s"] = time.perf_counter() - t
    for m in made:
        m.remove(force=True)

    t = time.perf_counter()
    with ThreadPoolExecutor(8) as pool:
        made = list(pool.map(lambda _: create_start(), range(bulk)))
    out["bulk_threads_s"] = time.perf_counter() - t
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda m: m.remove(force=True), made))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
