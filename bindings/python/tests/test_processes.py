"""Other processes: fork, multiprocessing, Ctrl-C, and the kled CLI."""

from __future__ import annotations

import json
import multiprocessing
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import threading
import time
from typing import Callable, Optional

import pytest

import kled
from conftest import PYTHON, pid_alive


def wait_child(pid: int, timeout: float = 60) -> int:
    """The exit status of a forked child; kills it (and fails) if it hangs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status) if hasattr(os, "waitstatus_to_exitcode") else status >> 8
        time.sleep(0.02)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    pytest.fail(f"forked child {pid} hung for {timeout}s")


def in_child(body) -> int:  # type: ignore[no-untyped-def]
    """Runs body() in a forked child; its return value is the exit status."""
    pid = os.fork()
    if pid == 0:
        code = 99
        try:
            code = body()
        except BaseException as e:  # report anything, never return into pytest
            print(f"child failed: {e!r}", file=sys.stderr, flush=True)
            code = 98
        finally:
            os._exit(code)
    return wait_child(pid)


def use_in_child(action: Callable[[], bool]) -> int:
    """Runs action() in a forked child of this process (which has used kled).
    0: kled worked there and action() returned True; or, in a build whose
    tokio is not fork-safe (kled.FORK_CHILD_SUPPORTED is False), kled refused
    at once with a clear InvalidStateError."""

    def body() -> int:
        try:
            ok = action()
        except kled.InvalidStateError as e:
            if not kled.FORK_CHILD_SUPPORTED and "fork()" in str(e) and "spawn" in str(e):
                return 0
            raise
        if not kled.FORK_CHILD_SUPPORTED:
            return 3  # should have refused
        return 0 if ok else 1

    return in_child(body)


def test_fork_child_uses_the_parents_handles(manager: kled.Manager, terminal: kled.Terminal, state_dir: str) -> None:
    assert terminal.execute("echo parent").stdout == "parent\n"  # connection and runtime in use

    def child() -> bool:
        r = terminal.execute("echo child")
        t2 = manager.create_terminal("local", "from-child")
        t2.start()
        ok = t2.execute(["echo", "new"]).stdout == "new\n"
        t2.remove()
        return r.stdout == "child\n" and ok

    assert use_in_child(child) == 0
    # A manager made in the child behaves the same.
    assert use_in_child(lambda: kled.Manager(state_dir=state_dir).get_terminal("t1").execute("true").ok) == 0
    # The parent's connection still works, and sees what the child did.
    assert terminal.execute("echo parent again").stdout == "parent again\n"
    assert [i.name for i in manager.list_terminals()] == ["t1"]


FORK_BEFORE_USE = textwrap.dedent(
    """
    import os, sys, kled
    pid = os.fork()          # kled imported, not used yet: the child may use it
    if pid == 0:
        with kled.Manager().create_terminal("local", "child-made") as t:
            ok = t.execute(["echo", "child"]).stdout == "child\\n"
        os._exit(0 if ok else 1)
    with kled.Manager().create_terminal("local", "parent-made") as t:
        ok = t.execute(["echo", "parent"]).stdout == "parent\\n"
    _, status = os.waitpid(pid, 0)
    sys.exit(0 if ok and status == 0 else 1)
    """
)


def test_fork_before_first_use_works_in_every_build(python_env: dict[str, str]) -> None:
    r = subprocess.run([PYTHON, "-c", FORK_BEFORE_USE], env=python_env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr


def test_fork_while_other_threads_exec(terminal: kled.Terminal) -> None:
    stop = threading.Event()

    def busy() -> None:
        while not stop.is_set():
            terminal.execute("true")

    threads = [threading.Thread(target=busy) for _ in range(4)]
    for th in threads:
        th.start()
    try:
        for _ in range(5):
            time.sleep(0.05)
            assert use_in_child(lambda: terminal.execute("echo ok").stdout == "ok\n") == 0
    finally:
        stop.set()
        for th in threads:
            th.join()


def test_fork_child_gets_a_clear_error_for_a_parents_stream(terminal: kled.Terminal) -> None:
    stream = terminal.exec_stream("sleep 5; echo late")

    def child() -> int:
        try:
            next(stream)
        except kled.InvalidStateError as e:
            return 0 if "forked child" in str(e) else 1
        return 2

    assert in_child(child) == 0
    stream.close()


def test_async_in_a_forked_child(terminal: kled.Terminal) -> None:
    import asyncio

    async def gather() -> list[str]:
        rs = await asyncio.gather(*(terminal.execute_async(["echo", str(i)]) for i in range(5)))
        return [r.stdout for r in rs]

    assert asyncio.run(gather())[0] == "0\n"
    assert use_in_child(lambda: asyncio.run(gather()) == [f"{i}\n" for i in range(5)]) == 0


# multiprocessing (fork start method): workers use a module-level handle.
_POOL_TERMINAL: Optional[kled.Terminal] = None


def _pool_work(i: int) -> kled.ExecResult:
    assert _POOL_TERMINAL is not None
    return _POOL_TERMINAL.execute(f"echo {i}; echo $$ >&2")


def test_multiprocessing_fork_pool(terminal: kled.Terminal) -> None:
    global _POOL_TERMINAL
    _POOL_TERMINAL = terminal
    terminal.execute("true")
    ctx = multiprocessing.get_context("fork")
    try:
        with ctx.Pool(3) as pool:
            if kled.FORK_CHILD_SUPPORTED:
                results = pool.map_async(_pool_work, range(12)).get(timeout=120)
                assert [r.stdout for r in results] == [f"{i}\n" for i in range(12)]
                assert all(isinstance(r, kled.ExecResult) and r.ok for r in results)
            else:
                with pytest.raises(kled.InvalidStateError, match="spawn"):
                    pool.map_async(_pool_work, range(3)).get(timeout=120)
    finally:
        _POOL_TERMINAL = None


def _spawn_work(t: kled.Terminal) -> tuple[int, str]:
    return os.getpid(), t.execute(["echo", "from a spawned worker"]).stdout


def test_handles_pickle_for_spawn_and_forkserver(terminal: kled.Terminal, state_dir: str) -> None:
    m = kled.Manager(state_dir=state_dir, config={"librechat": {"base_url": "http://127.0.0.1:9"}})
    m2 = pickle.loads(pickle.dumps(m))
    assert isinstance(m2, kled.Manager) and m2.state_dir == state_dir
    t2 = pickle.loads(pickle.dumps(terminal))
    assert t2 == terminal and t2.execute("echo same").stdout == "same\n"
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(2) as pool:
        answers = pool.map_async(_spawn_work, [terminal] * 4).get(timeout=120)
    assert [out for _, out in answers] == ["from a spawned worker\n"] * 4
    assert os.getpid() not in {pid for pid, _ in answers}


INTERRUPTED = textwrap.dedent(
    """
    import sys, time, kled
    t = kled.Manager().get_terminal(sys.argv[1])
    try:
        t.execute("echo $$ > victim.pid; exec sleep 60")
    except KeyboardInterrupt:
        print("interrupted", flush=True)
        sys.exit(42)
    sys.exit(1)
    """
)


def test_ctrl_c_interrupts_execute_and_kills_the_command(terminal: kled.Terminal, python_env: dict[str, str]) -> None:
    terminal.execute("rm -f victim.pid")
    child = subprocess.Popen([PYTHON, "-c", INTERRUPTED, terminal.name], env=python_env, stdout=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        pid = None
        while time.monotonic() < deadline and pid is None:
            r = terminal.execute("cat victim.pid 2>/dev/null")
            pid = int(r.stdout) if r.stdout.strip() else None
            time.sleep(0.02)
        assert pid is not None, "the child never started its command"
        assert pid_alive(pid)
        sent = time.monotonic()
        child.send_signal(signal.SIGINT)
        out, _ = child.communicate(timeout=10)
        took = time.monotonic() - sent
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == 42, (child.returncode, out)
    assert out.strip() == "interrupted"
    assert took < 1.0, f"KeyboardInterrupt took {took:.2f}s"
    deadline = time.monotonic() + 5
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not pid_alive(pid), "the interrupted command still runs"


INTERRUPTED_STREAM = textwrap.dedent(
    """
    import sys, kled
    t = kled.Manager().get_terminal(sys.argv[1])
    try:
        for ev in t.exec_stream("echo $$ > victim.pid; exec sleep 60"):
            pass
    except KeyboardInterrupt:
        print("interrupted", flush=True)
        sys.exit(42)
    sys.exit(1)
    """
)


def test_ctrl_c_interrupts_a_stream_and_kills_the_command(terminal: kled.Terminal, python_env: dict[str, str]) -> None:
    terminal.execute("rm -f victim.pid")
    child = subprocess.Popen(
        [PYTHON, "-c", INTERRUPTED_STREAM, terminal.name], env=python_env, stdout=subprocess.PIPE, text=True
    )
    try:
        pid = None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and pid is None:
            r = terminal.execute("cat victim.pid 2>/dev/null")
            pid = int(r.stdout) if r.stdout.strip() else None
            time.sleep(0.02)
        assert pid is not None
        child.send_signal(signal.SIGINT)
        out, _ = child.communicate(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == 42 and out.strip() == "interrupted"
    deadline = time.monotonic() + 5
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not pid_alive(pid)


def cli(kled_cli: str, state_dir: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, KLED_HOME=state_dir)
    return subprocess.run([kled_cli, *args], env=env, capture_output=True, text=True, timeout=60)


def test_python_terminals_are_visible_to_the_cli(manager: kled.Manager, state_dir: str, kled_cli: str) -> None:
    t = manager.create_terminal("local", "py-made")
    t.start()
    t.write_file("hello.txt", "from python\n")
    listed = json.loads(cli(kled_cli, state_dir, "terminal", "list", "--json").stdout)
    assert [(x["name"], x["kind"], x["state"]) for x in listed] == [("py-made", "local", "running")]
    r = cli(kled_cli, state_dir, "terminal", "exec", "py-made", "cat", "hello.txt")
    assert (r.returncode, r.stdout) == (0, "from python\n"), r.stderr
    r = cli(kled_cli, state_dir, "terminal", "exec", "py-made", "exit 9")
    assert r.returncode == 9
    assert cli(kled_cli, state_dir, "terminal", "stop", "py-made").returncode == 0
    assert t.state == "stopped"
    assert cli(kled_cli, state_dir, "terminal", "rm", "py-made").returncode == 0
    with pytest.raises(kled.NotFoundError):
        t.execute("true")


def test_cli_terminals_are_visible_to_python(manager: kled.Manager, state_dir: str, kled_cli: str) -> None:
    r = cli(kled_cli, state_dir, "terminal", "create", "cli-made")
    assert r.returncode == 0, r.stderr
    assert [i.name for i in manager.list_terminals()] == ["cli-made"]
    t = manager.get_terminal("cli-made")
    assert t.state == "running" and t.kind == "local"
    assert t.execute("echo $((40 + 2))").stdout == "42\n"
    r = cli(kled_cli, state_dir, "terminal", "exec", "cli-made", "echo", "cli")
    assert r.stdout == "cli\n"
    t.remove()
    listed = json.loads(cli(kled_cli, state_dir, "terminal", "list", "--json").stdout)
    assert listed == []


LOGGED = textwrap.dedent(
    """
    import kled
    with kled.Manager().create_terminal("local", "logged") as t:
        t.execute("true")
    """
)


def test_core_logs_only_with_kled_log(python_env: dict[str, str]) -> None:
    quiet = subprocess.run([PYTHON, "-c", LOGGED], env=python_env, capture_output=True, text=True, timeout=60)
    assert quiet.returncode == 0 and quiet.stderr == "", quiet.stderr
    env = dict(python_env, KLED_LOG="info")
    loud = subprocess.run([PYTHON, "-c", LOGGED], env=env, capture_output=True, text=True, timeout=60)
    assert loud.returncode == 0, loud.stderr
    assert "started" in loud.stderr and "removed" in loud.stderr and "logged" in loud.stderr, loud.stderr
