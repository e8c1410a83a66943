"""execute, run_code, files and exec_stream on a real local terminal."""

from __future__ import annotations

import os
import pickle
import signal
import threading
import time
from collections import UserDict
from pathlib import Path, PurePosixPath

import pytest

import kled
from conftest import pid_alive


def test_shell_and_argv(terminal: kled.Terminal) -> None:
    r = terminal.execute("echo out; echo err >&2; exit 7")
    assert (r.stdout, r.stderr, r.exit_code, r.signal) == ("out\n", "err\n", 7, None)
    assert not r.ok and not r.timed_out and not r.truncated and r.duration > 0
    # argv: no shell, so no expansion
    r = terminal.execute(["echo", "$HOME", "a b"])
    assert r.stdout == "$HOME a b\n" and r.ok
    r = terminal.execute(("printf", "%s|", "x", "y"))
    assert r.stdout == "x|y|"
    # argv items may be paths
    r = terminal.execute(["ls", "-d", PurePosixPath("/tmp")])
    assert r.stdout == "/tmp\n"
    r = terminal.execute(["no-such-program-kled"])
    assert r.exit_code == 127 and "no-such-program-kled" in r.stderr


def test_unicode(terminal: kled.Terminal) -> None:
    text = "héllo wörld ✓ 日本語 🚀"
    r = terminal.execute(["printf", "%s", text])
    assert r.stdout == text and r.stdout_bytes == text.encode()
    r = terminal.execute(f"echo '{text}' >&2", env={"ÜNI": text})
    assert r.stderr == text + "\n"
    assert terminal.execute("printf %s \"$UNI\"", env={"UNI": text}).stdout == text
    terminal.execute(["mkdir", "-p", "dïr ✓"]).check()
    assert terminal.execute("pwd", cwd="dïr ✓").stdout.strip().endswith("dïr ✓")
    assert terminal.execute("cat", stdin=text).stdout == text


def test_binary_output(terminal: kled.Terminal) -> None:
    every_byte = bytes(range(256))
    terminal.write_file("all.bin", every_byte)
    r = terminal.execute(["cat", "all.bin"])
    assert r.stdout_bytes == every_byte
    assert r.stdout == every_byte.decode("utf-8", errors="replace")
    assert "\ufffd" in r.stdout
    r = terminal.execute("printf '\\377\\376ok' >&2")
    assert r.stderr_bytes == b"\xff\xfeok" and r.stderr == "\ufffd\ufffdok"
    # NUL bytes pass through
    assert terminal.execute("printf 'a\\0b'").stdout_bytes == b"a\x00b"


def test_stdin_forms(terminal: kled.Terminal) -> None:
    for data in (b"bytes\n", "str\n", bytearray(b"bytearray\n"), memoryview(b"memoryview\n")):
        r = terminal.execute("cat", stdin=data)
        assert r.stdout_bytes == bytes(data if not isinstance(data, str) else data.encode())
    assert terminal.execute("wc -c").stdout.strip() == "0"  # no stdin: empty
    big = os.urandom(3 * 1024 * 1024)
    assert terminal.execute(["sha256sum"], stdin=big).stdout.split()[0] == __import__("hashlib").sha256(big).hexdigest()


def test_env_and_cwd(terminal: kled.Terminal, tmp_path: Path) -> None:
    assert terminal.execute("echo $A-$B", env={"A": "1", "B": "two"}).stdout == "1-two\n"
    assert terminal.execute("echo $K", env=UserDict({"K": "mapping"})).stdout == "mapping\n"
    env = dict(os.environ, KLED_X="from-os")
    assert terminal.execute("echo $KLED_X", env=env).stdout == "from-os\n"
    assert terminal.execute("pwd", cwd="/tmp").stdout == "/tmp\n"
    assert terminal.execute("pwd", cwd=tmp_path).stdout == f"{tmp_path}\n"
    r = terminal.execute("pwd", cwd="/no/such/dir")
    assert r.exit_code != 0 or "no/such" in r.stderr


def test_timeout_kills_the_process_group(terminal: kled.Terminal) -> None:
    started = time.monotonic()
    r = terminal.execute("echo before; (sleep 30; echo never) & echo $! > child.pid; sleep 30", timeout=0.5)
    elapsed = time.monotonic() - started
    assert r.timed_out and not r.ok and r.stdout == "before\n"
    assert 0.4 < elapsed < 5, elapsed
    child = int(terminal.read_file("child.pid"))
    deadline = time.monotonic() + 5
    while pid_alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not pid_alive(child), "the timed-out command's background child survived"
    with pytest.raises(kled.CommandError, match="timed out") as e:
        r.check()
    assert e.value.result is r


def test_signal_and_truncation(terminal: kled.Terminal) -> None:
    r = terminal.execute("kill -9 $$")
    assert r.signal == 9 and r.exit_code is None and not r.ok
    with pytest.raises(kled.CommandError, match="signal 9"):
        r.check()
    r = terminal.execute("head -c 100000 /dev/zero", max_output=1000)
    assert r.truncated and len(r.stdout_bytes) == 1000 and r.exit_code == 0
    r = terminal.execute("head -c 5000000 /dev/urandom")
    assert len(r.stdout_bytes) == 5_000_000 and not r.truncated


def test_exec_result(terminal: kled.Terminal) -> None:
    ok = terminal.execute("echo fine")
    assert ok.check() is ok and ok.ok
    bad = terminal.execute("echo oops >&2; exit 3")
    with pytest.raises(kled.CommandError) as e:
        bad.check()
    err = e.value
    assert err.result is bad and err.result.exit_code == 3
    assert "status 3" in str(err) and "oops" in str(err)
    assert isinstance(err, kled.KledError)
    # pickling (multiprocessing returns results across processes)
    again = pickle.loads(pickle.dumps(bad))
    assert again == bad and again.stderr == "oops\n" and again.exit_code == 3
    err2 = pickle.loads(pickle.dumps(err))
    assert err2.result == bad and str(err2) == str(err)
    assert repr(bad).startswith("ExecResult(exit_code=3, signal=None, timed_out=False, truncated=False")
    made = kled.ExecResult(stdout=b"x\xff", exit_code=0)
    assert made.stdout == "x\ufffd" and made.stderr_bytes == b"" and made.ok
    assert made != bad


def test_run_code(terminal: kled.Terminal) -> None:
    r = terminal.run_code("py", "import sys\nprint(sum(range(10)), sys.argv[1:])", args=["a", "b"])
    assert r.check().stdout == "45 ['a', 'b']\n"
    r = terminal.run_code("python", "print(input().upper())", stdin="shout\n")
    assert r.stdout == "SHOUT\n"
    r = terminal.run_code("bash", "echo $((6 * 7)); exit 4")
    assert (r.stdout, r.exit_code) == ("42\n", 4)
    r = terminal.run_code("sh", "sleep 20", timeout=0.3)
    assert r.timed_out
    r = terminal.run_code("python", "raise SystemExit('boom')")
    assert r.exit_code == 1 and "boom" in r.stderr


def test_files(terminal: kled.Terminal) -> None:
    terminal.write_file("notes/a.txt", "héllo\n")
    assert terminal.read_file("notes/a.txt") == "héllo\n".encode()
    assert terminal.execute("cat notes/a.txt").stdout == "héllo\n"
    terminal.write_file(PurePosixPath("notes/run.sh"), b"#!/bin/sh\necho ran\n", mode=0o755)
    assert terminal.execute("./notes/run.sh").stdout == "ran\n"
    terminal.write_file("notes/a.txt", bytearray(b"over"))
    assert terminal.read_file(PurePosixPath("notes/a.txt")) == b"over"
    entries = {e.name: e for e in terminal.list_dir("notes")}
    assert set(entries) == {"a.txt", "run.sh"}
    assert entries["a.txt"].kind == "file" and entries["a.txt"].size == 4
    assert entries["run.sh"].mode & 0o777 == 0o755
    assert "notes" in {e.name for e in terminal.list_dir()}
    assert any(e.kind == "dir" for e in terminal.list_dir("/"))
    big = os.urandom(2 * 1024 * 1024 + 17)
    terminal.write_file("/tmp/kled-py-big.bin", big)
    try:
        assert terminal.read_file("/tmp/kled-py-big.bin") == big
    finally:
        os.remove("/tmp/kled-py-big.bin")


def test_exec_stream(terminal: kled.Terminal) -> None:
    events = list(terminal.exec_stream("echo one; sleep 0.2; echo two >&2; exit 5"))
    kinds = [e.kind for e in events]
    assert kinds == ["stdout", "stderr", "exit"], events
    assert events[0].data == b"one\n" and events[0].text == "one\n" and events[0].exit_code is None
    last = events[-1]
    assert last.exit_code == 5 and last.data == b"" and not last.timed_out and last.duration is not None
    assert repr(last).startswith("ExecEvent(kind='exit', exit_code=5")
    # Output arrives while the command still runs.
    with terminal.exec_stream(["sh", "-c", "echo first; sleep 30"]) as s:
        t0 = time.monotonic()
        assert next(s).text == "first\n"
        assert time.monotonic() - t0 < 5
        assert s.terminal == "t1" and "open" in repr(s)
    assert "closed" in repr(s)
    assert list(s) == []  # closed: nothing more


def test_exec_stream_close_and_signal_kill(terminal: kled.Terminal) -> None:
    s = terminal.exec_stream("echo $$; exec sleep 30")
    pid = int(next(s).text)
    assert pid_alive(pid)
    s.close()
    s.close()
    deadline = time.monotonic() + 5
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not pid_alive(pid)

    s = terminal.exec_stream("trap 'echo got-term; exit 3' TERM; echo ready; while :; do sleep 0.05; done")
    assert next(s).text == "ready\n"
    s.signal(signal.SIGTERM)
    rest = list(s)
    assert rest[-1].kind == "exit" and rest[-1].exit_code == 3
    assert b"".join(e.data for e in rest if e.kind == "stdout") == b"got-term\n"
    s.close()
    with pytest.raises(kled.InvalidStateError, match="closed"):
        s.signal(signal.SIGTERM)

    # Dropping the last reference kills too.
    s = terminal.exec_stream("echo $$; exec sleep 30")
    pid = int(next(s).text)
    del s
    deadline = time.monotonic() + 5
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not pid_alive(pid)


def test_exec_stream_timeout_and_stdin(terminal: kled.Terminal) -> None:
    events = list(terminal.exec_stream("cat; sleep 30", stdin=b"fed", timeout=0.3))
    assert events[0].data == b"fed"
    assert events[-1].kind == "exit" and events[-1].timed_out


def test_not_running_terminal_errors(manager: kled.Manager) -> None:
    t = manager.create_terminal("local", "idle")
    for call in (
        lambda: t.execute("true"),
        lambda: t.exec_stream("true"),
        lambda: t.run_code("sh", "true"),
        lambda: t.read_file("x"),
        lambda: t.write_file("x", b""),
        lambda: t.list_dir(),
    ):
        with pytest.raises(kled.InvalidStateError):
            call()


def test_signal_reaches_a_stream_another_thread_reads(terminal: kled.Terminal) -> None:
    s = terminal.exec_stream("trap 'echo got-term; exit 3' TERM; echo ready; while :; do sleep 0.05; done")
    assert next(s).text == "ready\n"
    events: list[kled.ExecEvent] = []
    reader = threading.Thread(target=lambda: events.extend(s))
    reader.start()
    time.sleep(0.2)  # the reader now waits inside next()
    s.signal(signal.SIGTERM)
    reader.join(10)
    assert not reader.is_alive(), "the signal did not reach the command"
    assert events[-1].kind == "exit" and events[-1].exit_code == 3
    with pytest.raises(kled.InvalidArgumentError, match="no such signal"):
        s.signal(0)


def test_pseudo_terminal_and_open_stdin(terminal: kled.Terminal) -> None:
    r = terminal.execute("test -t 1 && stty size; echo e >&2", tty=(30, 100))
    assert (r.stdout, r.stderr) == ("30 100\r\ne\r\n", "")
    with terminal.exec_stream("read a; echo got:$a; sleep 0.5; stty size", tty=(24, 80), stdin_open=True) as s:
        s.write("hi\n")
        s.resize(40, 120)
        events = list(s)
    out = "".join(e.text for e in events if e.kind == "stdout")
    assert "got:hi\r\n" in out and out.endswith("40 120\r\n"), out
    with terminal.exec_stream("cat; echo done", stdin_open=True) as s:
        s.write(b"one ")
        s.write("two\n")
        s.close_stdin()
        assert "".join(e.text for e in s if e.kind == "stdout") == "one two\ndone\n"
