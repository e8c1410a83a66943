"""Python binding overhead: `t.execute("true")` round trip through kled's
Python binding vs the Rust API on the same terminal, and vs
`subprocess.run(["true"])`; p50/p99 over N round trips each, one run.

The Rust figures come from a helper process (exec_baseline, an example of the
core crate) that runs the core API on the same terminal. Rust and Python
run in alternating batches of 10, so both see the same machine conditions.

The binding's overhead is given three ways:
- p50(Python) - p50(Rust), the plain comparison;
- the median over batches of (Python batch median - Rust batch median),
  which cancels slow drifts in machine load;
- client CPU time per round trip (user + system, all threads of the calling
  process) of Python minus Rust: what the binding itself costs, and the
  figure least disturbed by other load on the machine.

With --instructions (and valgrind installed), it also counts the machine
instructions the client process executes per round trip, Python vs Rust
(valgrind's callgrind, all threads, the difference between a 100 and a 400
round-trip run so start-up cancels out): a figure no other load disturbs.

Usage: python bench/python_exec.py RUST_BENCH_BINARY [N] [--instructions]
(bench/python_exec.sh builds everything and runs this.)
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Any, Callable, Dict, List, Tuple

import kled

BATCH = 10


def pct(xs: List[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))]


def python_batch(k: int, f: Callable[[], object]) -> Tuple[List[float], float]:
    """Round-trip times (µs) and the CPU time (µs) the batch took."""
    times = []
    cpu = time.process_time()
    for _ in range(k):
        t0 = time.perf_counter()
        f()
        times.append((time.perf_counter() - t0) * 1e6)
    return times, (time.process_time() - cpu) * 1e6


PY_LOOP = """
import sys, kled
t = kled.Manager(state_dir=sys.argv[1]).get_terminal(sys.argv[2])
cmd = "true" if sys.argv[3] == "shell" else ["true"]
for _ in range(int(sys.argv[4])):
    t.execute(cmd)
"""


def instructions(argv: List[str], stdin: str = "") -> int:
    """Instructions valgrind counts for a whole run of argv (all threads)."""
    out = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *argv],
        input=stdin, capture_output=True, text=True, timeout=600, check=True,
    )
    found = re.search(r"Collected : (\d+)", out.stderr)
    assert found, out.stderr[-2000:]
    return int(found.group(1))


def count_instructions(rust_bench: str) -> None:
    if not shutil.which("valgrind"):
        print("\ninstructions per round trip: skipped (valgrind is not installed)")
        return
    small, large = 100, 400
    with tempfile.TemporaryDirectory(prefix="kled-bench-vg-", dir="/tmp") as home:
        m = kled.Manager(state_dir=home)
        t = m.create_terminal("local", "vg")
        try:
            t.start()
            print(f"\nclient instructions per round trip (valgrind callgrind, runs of {large} minus {small}):")
            for form in ("shell", "argv"):
                per: Dict[str, float] = {}
                for side in ("python", "rust"):
                    counts = []
                    for k in (small, large):
                        if side == "python":
                            counts.append(instructions([sys.executable, "-c", PY_LOOP, home, "vg", form, str(k)]))
                        else:
                            counts.append(instructions([rust_bench, home, "vg"], stdin=f"{form} {k}\n"))
                    per[side] = (counts[1] - counts[0]) / (large - small)
                print(f"  {form:5}  Python {per['python']:8.0f}   Rust {per['rust']:8.0f}   "
                      f"binding: {per['python'] - per['rust']:+7.0f} instructions per call")
        finally:
            t.remove()


def main() -> int:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    rust_bench = args[0]
    n = int(args[1]) if len(args) > 1 else 1000
    keys = ("py_shell", "rust_shell", "py_argv", "rust_argv", "subprocess")
    samples: Dict[str, List[float]] = {k: [] for k in keys}
    cpu: Dict[str, float] = {k: 0.0 for k in keys}
    paired: Dict[str, List[float]] = {"shell": [], "argv": []}
    with tempfile.TemporaryDirectory(prefix="kled-bench-py-", dir="/tmp") as home:
        m = kled.Manager(state_dir=home)
        t = m.create_terminal("local", "bench")
        rust = None
        try:
            t.start()
            rust = subprocess.Popen([rust_bench, home, "bench"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

            def rust_batch(form: str, k: int) -> Tuple[List[float], float]:
                assert rust is not None and rust.stdin is not None and rust.stdout is not None
                rust.stdin.write(f"{form} {k}\n")
                rust.stdin.flush()
                answer: Dict[str, Any] = json.loads(rust.stdout.readline())
                return answer["times"], float(answer["cpu_us"])

            calls: Dict[str, Callable[[], object]] = {
                "shell": lambda: t.execute("true"),
                "argv": lambda: t.execute(["true"]),
            }
            for form in ("shell", "argv"):  # warm-up: connections, caches, the agent
                rust_batch(form, 50)
                python_batch(50, calls[form])
            python_batch(20, lambda: subprocess.run(["true"]))
            done = 0
            while done < n:
                k = min(BATCH, n - done)
                for form in ("shell", "argv"):
                    r_times, r_cpu = rust_batch(form, k)
                    p_times, p_cpu = python_batch(k, calls[form])
                    samples[f"rust_{form}"] += r_times
                    samples[f"py_{form}"] += p_times
                    cpu[f"rust_{form}"] += r_cpu
                    cpu[f"py_{form}"] += p_cpu
                    paired[form].append(pct(p_times, 0.5) - pct(r_times, 0.5))
                s_times, s_cpu = python_batch(k, lambda: subprocess.run(["true"]))
                samples["subprocess"] += s_times
                cpu["subprocess"] += s_cpu
                done += k
            assert t.execute("true").exit_code == 0
        finally:
            if rust is not None:
                if rust.stdin is not None:
                    rust.stdin.close()
                rust.wait(timeout=30)
            t.remove()

    p = {k: (pct(v, 0.5), pct(v, 0.99), cpu[k] / n) for k, v in samples.items()}
    rows = [
        ('Python t.execute("true")', "py_shell"),
        ('Rust   t.exec("true")      same terminal', "rust_shell"),
        ('Python t.execute(["true"])', "py_argv"),
        ('Rust   t.exec(["true"])    same terminal', "rust_argv"),
        ('Python subprocess.run(["true"])', "subprocess"),
    ]
    print(f"kled Python binding: {n} round trips each, Rust and Python in alternating batches of {BATCH}")
    print(f"(kled {kled.__version__}, Python {sys.version.split()[0]})")
    print(f"{'':42} {'p50 µs':>9} {'p99 µs':>9} {'client CPU µs':>14}")
    for label, key in rows:
        print(f"{label:42} {p[key][0]:9.1f} {p[key][1]:9.1f} {p[key][2]:14.1f}")
    forms = ("shell", "argv")
    over = {f: p[f"py_{f}"][0] - p[f"rust_{f}"][0] for f in forms}
    ratio = {f: p[f"py_{f}"][0] / p[f"rust_{f}"][0] for f in forms}
    pair = {f: pct(paired[f], 0.5) for f in forms}
    cpu_over = {f: p[f"py_{f}"][2] - p[f"rust_{f}"][2] for f in forms}
    print()
    print("binding overhead (aim: under 30 µs)")
    print(f"  p50 Python - p50 Rust:              shell {over['shell']:+7.1f} µs ({ratio['shell']:.3f}x)"
          f"   argv {over['argv']:+7.1f} µs ({ratio['argv']:.3f}x)")
    print(f"  median of paired batch differences: shell {pair['shell']:+7.1f} µs            argv {pair['argv']:+7.1f} µs")
    print(f"  client CPU per call, Python - Rust: shell {cpu_over['shell']:+7.1f} µs            argv {cpu_over['argv']:+7.1f} µs")
    print(f"Python execute([\"true\"]) / subprocess.run([\"true\"]), p50: {p['py_argv'][0] / p['subprocess'][0]:.2f}x")
    figures: Dict[str, float] = {f"{k}_p50_us": round(v[0], 1) for k, v in p.items()}
    figures.update({f"paired_overhead_{k}_us": round(v, 1) for k, v in pair.items()})
    figures.update({f"cpu_overhead_{k}_us": round(v, 1) for k, v in cpu_over.items()})
    print(json.dumps(figures))
    if "--instructions" in sys.argv:
        count_instructions(rust_bench)
    return 0


if __name__ == "__main__":
    sys.exit(main())
