"""Threads, the GIL, and asyncio on the same handles."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

import kled
from conftest import pid_alive


def test_50_threads_on_10_terminals(manager: kled.Manager) -> None:
    terminals = manager.create_bulk_terminals("local", 10, prefix="th", start=True)
    errors: list[BaseException] = []

    def work(i: int) -> int:
        t = terminals[i % 10]
        done = 0
        for j in range(10):
            r = t.execute(["sh", "-c", 'echo "$1 $2"', "sh", str(i), str(j)])
            assert r.stdout == f"{i} {j}\n", r
            assert r.exit_code == 0
            done += 1
        return done

    with ThreadPoolExecutor(max_workers=50) as pool:
        futures = [pool.submit(work, i) for i in range(50)]
        total = 0
        for f in futures:
            try:
                total += f.result(timeout=120)
            except BaseException as e:  # collected to report them all
                errors.append(e)
    assert not errors, errors[:3]
    assert total == 500


def test_blocking_calls_release_the_gil(terminal: kled.Terminal) -> None:
    ticks = 0
    stop = threading.Event()

    def spin() -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            time.sleep(0.001)

    th = threading.Thread(target=spin)
    th.start()
    try:
        terminal.execute("sleep 0.5")
    finally:
        stop.set()
        th.join()
    # With the GIL held for 0.5 s the thread could not have ticked ~hundreds of times.
    assert ticks > 100, ticks


def test_asyncio_gather_100_execs(terminal: kled.Terminal) -> None:
    async def main() -> list[kled.ExecResult]:
        return await asyncio.gather(*(terminal.execute_async(["echo", str(i)]) for i in range(100)))

    results = asyncio.run(main())
    assert [r.stdout for r in results] == [f"{i}\n" for i in range(100)]
    assert all(r.ok for r in results)


def test_asyncio_is_concurrent(terminal: kled.Terminal) -> None:
    async def main() -> float:
        t0 = time.monotonic()
        await asyncio.gather(*(terminal.execute_async("sleep 0.5") for _ in range(20)))
        return time.monotonic() - t0

    assert asyncio.run(main()) < 3.0


def test_every_async_method(manager: kled.Manager) -> None:
    async def main() -> None:
        t = await manager.create_terminal_async("local", "as1", {"env": {"X": "1"}})
        assert t.name == "as1" and t.state == "created"
        await t.start_async()
        r = await t.execute_async("echo $X; cat", stdin=b"in", timeout=10, cwd="/tmp", env={"Y": "2"})
        assert r.stdout == "1\nin"
        r = await t.run_code_async("python", "print(2 ** 10)")
        assert r.stdout == "1024\n"
        await t.write_file_async("f.txt", "async data")
        assert await t.read_file_async("f.txt") == b"async data"
        assert [e.name for e in await t.list_dir_async()] == ["f.txt"]
        got = await manager.get_terminal_async("as1")
        assert got == t
        assert [i.name for i in await manager.list_terminals_async()] == ["as1"]
        stream = await t.exec_stream_async("echo a; echo b >&2")
        kinds = [e.kind async for e in stream]
        assert sorted(kinds[:2]) == ["stderr", "stdout"] and kinds[2] == "exit"
        await t.stop_async()
        assert t.state == "stopped"
        bulk = await manager.create_bulk_terminals_async("local", 2, prefix="ab", start=True)
        assert [b.state for b in bulk] == ["running", "running"]
        for b in bulk:
            await b.remove_async()
        await t.remove_async()
        with pytest.raises(kled.NotFoundError):
            await manager.get_terminal_async("as1")
        with pytest.raises(kled.AlreadyExistsError):
            await manager.create_terminal_async("local", "dup")
            await manager.create_terminal_async("local", "dup")
        await manager.remove_terminal_async("dup")
        async with await manager.create_terminal_async("local", "actx") as t2:
            assert t2.state == "running"
            assert (await t2.execute_async("echo ctx")).stdout == "ctx\n"
        assert [i.name for i in manager.list_terminals()] == []

    asyncio.run(main())


def test_async_iteration_of_a_sync_started_stream(terminal: kled.Terminal) -> None:
    async def main() -> list[str]:
        out: list[str] = []
        async for ev in terminal.exec_stream("for i in 1 2 3; do echo $i; sleep 0.05; done"):
            out.append(ev.kind)
        return out

    kinds = asyncio.run(main())
    assert kinds == ["stdout", "stdout", "stdout", "exit"]


def test_async_cancellation_kills_the_command(terminal: kled.Terminal) -> None:
    async def main() -> None:
        task = asyncio.ensure_future(terminal.execute_async("echo $$ > cancel.pid; exec sleep 30"))
        for _ in range(200):
            await asyncio.sleep(0.025)
            if (await terminal.execute_async("cat cancel.pid 2>/dev/null")).stdout:
                break
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    pid = int(terminal.read_file("cancel.pid"))
    deadline = time.monotonic() + 5
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not pid_alive(pid)


def test_async_timeout_via_wait_for(terminal: kled.Terminal) -> None:
    async def main() -> None:
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(terminal.execute_async("sleep 30"), 0.3)
        r = await terminal.execute_async("echo still fine")
        assert r.stdout == "still fine\n"

    asyncio.run(main())


def test_async_errors_are_kled_errors(manager: kled.Manager) -> None:
    idle = manager.create_terminal("local", "idle")

    async def main() -> None:
        with pytest.raises(kled.InvalidStateError):
            await idle.execute_async("true")
        with pytest.raises(kled.InvalidArgumentError):
            await manager.create_terminal_async("local", "bad name")

    asyncio.run(main())


def test_async_needs_a_running_loop(terminal: kled.Terminal) -> None:
    with pytest.raises(RuntimeError):
        terminal.execute_async("true")
