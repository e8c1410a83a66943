"""Fixtures: a private state dir per test, and terminals that are always removed.

Every test runs against real local terminals (kled-agent daemons). Each test
gets its own state directory; at teardown every terminal left in it is
removed, so no daemon outlives the test.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Iterator

import pytest

import kled

REPO = Path(__file__).resolve().parents[3]


def _remove_all(state_dir: str) -> None:
    m = kled.Manager(state_dir=state_dir)
    for info in m.list_terminals():
        try:
            m.remove_terminal(info.name)
        except kled.NotFoundError:
            pass


@pytest.fixture
def state_dir() -> Iterator[str]:
    # Short paths under /tmp: agent sockets live in the state dir.
    d = tempfile.mkdtemp(prefix="kled-py-", dir="/tmp")
    try:
        yield d
    finally:
        _remove_all(d)
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def manager(state_dir: str) -> kled.Manager:
    return kled.Manager(state_dir=state_dir)


@pytest.fixture
def terminal(manager: kled.Manager) -> Iterator[kled.Terminal]:
    t = manager.create_terminal("local", "t1")
    t.start()
    yield t
    try:
        t.remove()
    except kled.NotFoundError:
        pass


@pytest.fixture
def kled_cli() -> str:
    """The kled command (KLED_CLI, else target/debug/kled of this checkout)."""
    path = os.environ.get("KLED_CLI") or str(REPO / "target" / "debug" / "kled")
    if not os.access(path, os.X_OK):
        pytest.fail(f"the kled CLI is needed at {path}: run `cargo build -p kled-cli` or set KLED_CLI")
    return path


@pytest.fixture
def python_env(state_dir: str) -> dict[str, str]:
    """Environment for a child Python that imports the same kled."""
    env = dict(os.environ)
    env["KLED_HOME"] = state_dir
    env["PYTHONUNBUFFERED"] = "1"
    return env


def pid_alive(pid: int) -> bool:
    """True while `pid` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state not in ("Z", "X")
    except (FileNotFoundError, ProcessLookupError):  # gone, or going while we read
        return False


PYTHON = sys.executable
