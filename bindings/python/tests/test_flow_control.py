"""End-to-end flow control through the binding: an exec_stream nobody reads
holds this process's memory while its command writes without pause (issue 13),
then reading resumes and every byte arrives."""

from __future__ import annotations

import time

import kled

TOTAL = 400_000_000
BOUND = 32 << 20


def rss() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS in /proc/self/status")


def test_an_unread_stream_holds_memory_and_resumes_intact(terminal: kled.Terminal) -> None:
    terminal.execute("head -c 5000000 /dev/zero").check()  # warm the connection
    base = rss()
    with terminal.exec_stream(f"head -c {TOTAL} /dev/zero", max_output=1 << 30) as s:
        peak = 0
        until = time.monotonic() + 10
        while time.monotonic() < until:
            time.sleep(0.25)
            peak = max(peak, rss() - base)
        print(f"unread for 10 s: peak growth {peak / 1048576:.1f} MiB")
        assert peak < BOUND, f"memory grew by {peak} bytes while nobody read"
        n = 0
        last = None
        for ev in s:
            if ev.kind == "stdout":
                n += len(ev.data)
            else:
                last = ev
    assert last is not None and last.kind == "exit"
    assert (n, last.exit_code, last.truncated) == (TOTAL, 0, False)
