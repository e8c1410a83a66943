"""Manager and terminal lifecycle, configuration, and every error class."""

from __future__ import annotations

import builtins
import errno
import os
import pickle
import warnings
from pathlib import Path

import pytest

import kled


def test_package_surface() -> None:
    assert kled.__version__.count(".") == 2
    assert kled.DEFAULT_MAX_OUTPUT == 16 * 1024 * 1024
    for name in kled.__all__:
        obj = getattr(kled, name)
        if isinstance(obj, type):
            assert obj.__doc__ and obj.__doc__.strip(), f"{name} has no docstring"
            assert obj.__module__ == "kled" or obj.__module__ == "kled._errors", (name, obj.__module__)
    for cls in (
        kled.Manager,
        kled.Terminal,
        kled.ExecResult,
        kled.ExecStream,
        kled.ExecEvent,
        kled.TerminalInfo,
        kled.Provider,
        kled.DirEntry,
    ):
        public = [a for a in vars(cls) if not a.startswith("_")]
        assert public, cls
        for attr in public:
            assert getattr(cls, attr).__doc__, f"{cls.__name__}.{attr} has no docstring"


def test_lifecycle(manager: kled.Manager, state_dir: str) -> None:
    assert manager.state_dir == state_dir
    assert repr(manager) == f"<kled.Manager state_dir='{state_dir}'>"
    t = manager.create_terminal("local", "life")
    assert (t.name, t.kind, t.state) == ("life", "local", "created")
    assert repr(t) == "<kled.Terminal name='life' kind='local' state='created'>"
    t.start()
    t.start()  # idempotent
    assert t.state == "running"
    assert t.execute("echo up").stdout == "up\n"
    t.stop()
    t.stop()
    assert t.state == "stopped"
    with pytest.raises(kled.InvalidStateError, match="start it"):
        t.execute("true")
    t.start()
    assert t.execute("echo again").stdout == "again\n"
    info = t.info()
    assert (info.name, info.kind, info.state) == ("life", "local", "running")
    assert info.options == {"os": "linux"} and info.error is None and info.created_at > 1_600_000_000
    assert t.manager.state_dir == state_dir
    t.remove()
    assert repr(t) == "<kled.Terminal name='life' kind='local' state='removed'>"
    with pytest.raises(kled.NotFoundError):
        t.state
    assert manager.list_terminals() == []


def test_get_list_remove(manager: kled.Manager) -> None:
    a = manager.create_terminal("local", "b-2")
    manager.create_terminal("local", "a-1", {"env": {"GREETING": "hi"}})
    names = [i.name for i in manager.list_terminals()]
    assert names == ["a-1", "b-2"]
    got = manager.get_terminal("a-1")
    assert got.name == "a-1" and got.kind == "local"
    assert manager.get_terminal("b-2") == a and hash(manager.get_terminal("b-2")) == hash(a)
    assert got != a
    got.start()
    assert got.execute("echo $GREETING").stdout == "hi\n"
    manager.remove_terminal("a-1")
    manager.remove_terminal("b-2")
    assert manager.list_terminals() == []
    with pytest.raises(kled.NotFoundError, match="no terminal named"):
        manager.remove_terminal("a-1")


def test_context_manager_starts_and_removes(manager: kled.Manager) -> None:
    with manager.create_terminal("local", "ctx") as t:
        assert t.state == "running"
        assert t.execute(["echo", "in"]).stdout == "in\n"
    assert [i.name for i in manager.list_terminals()] == []
    # Removed even when the block raises.
    with pytest.raises(ZeroDivisionError):
        with manager.create_terminal("local", "ctx2") as t:
            1 / 0
    with pytest.raises(kled.NotFoundError):
        manager.get_terminal("ctx2")
    # Removing it inside the block is fine.
    with manager.create_terminal("local", "ctx3") as t:
        t.remove()
    assert manager.list_terminals() == []


def test_bulk(manager: kled.Manager) -> None:
    ts = manager.create_bulk_terminals("local", 3, prefix="w", start=True, concurrency=2)
    assert [t.name for t in ts] == ["w-1", "w-2", "w-3"]
    assert all(t.state == "running" for t in ts)
    assert [t.execute("echo $PWD").stdout.strip().endswith(t.name) for t in ts] == [True] * 3
    # All or nothing: a name that is taken fails the whole batch.
    with pytest.raises(kled.AlreadyExistsError, match="w-1"):
        manager.create_bulk_terminals("local", 2, prefix="w")
    created = manager.create_bulk_terminals("local", 2)
    assert [t.name for t in created] == ["local-1", "local-2"]
    assert all(t.state == "created" for t in created)
    with pytest.raises(kled.InvalidArgumentError):
        manager.create_bulk_terminals("local", 0)
    with pytest.raises(kled.InvalidArgumentError):
        manager.create_bulk_terminals("local", -2)
    with pytest.raises(kled.InvalidArgumentError):
        manager.create_bulk_terminals("local", 2, prefix="bad prefix")
    with pytest.raises(kled.InvalidArgumentError, match="concurrency"):
        manager.create_bulk_terminals("local", 2, None, "c", True, concurrency=0)
    assert len(manager.list_terminals()) == 5


def test_providers(manager: kled.Manager) -> None:
    ps = {p.kind: p for p in manager.providers()}
    assert {"local", "container", "gvisor", "kata", "neovim", "neovim-kata"} <= set(ps)
    local = ps["local"]
    assert local.available and local.reason is None and local.description and local.needs
    assert local.caps == {"tty": True, "signals": True, "editor": False, "isolated": False, "sessions": False, "files": True}
    assert ps["neovim"].caps["editor"] and ps["gvisor"].caps["isolated"]
    for p in ps.values():
        assert p.available == (p.reason is None)
        assert repr(p).startswith(f"Provider(kind='{p.kind}'")


def test_config_dict_and_file(state_dir: str, tmp_path: Path) -> None:
    m = kled.Manager(state_dir=state_dir, config={"librechat": {"base_url": "http://127.0.0.1:9"}})
    assert m.list_terminals() == []
    with pytest.raises(kled.ConfigError, match="bogus"):
        kled.Manager(state_dir=state_dir, config={"bogus": 1})
    with pytest.raises(kled.ConfigError, match="tokn"):
        kled.Manager(state_dir=state_dir, config={"coder": {"tokn": "x"}})
    good = tmp_path / "config.yaml"
    good.write_text("coder:\n  url: https://coder.example\n")
    kled.Manager(state_dir=state_dir, config=good)
    kled.Manager(state_dir=state_dir, config=str(good))
    bad = tmp_path / "bad.yaml"
    bad.write_text("kata:\n  timeot: 3\n")
    with pytest.raises(kled.ConfigError, match="timeot"):
        kled.Manager(state_dir=Path(state_dir), config=bad)
    with pytest.raises(kled.ConfigError, match="cannot read config file"):
        kled.Manager(state_dir=state_dir, config=tmp_path / "missing.yaml")
    with pytest.raises(TypeError, match="config must be"):
        kled.Manager(state_dir=state_dir, config=42)  # type: ignore[arg-type]


def test_default_state_dir_is_kled_home(state_dir: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KLED_HOME", state_dir)
    assert kled.Manager().state_dir == state_dir


def test_errors_by_kind(manager: kled.Manager, terminal: kled.Terminal) -> None:
    # not found
    with pytest.raises(kled.NotFoundError) as e:
        manager.get_terminal("nope")
    assert e.value.kind == "not_found" and isinstance(e.value, LookupError)
    with pytest.raises(kled.NotFoundError):
        terminal.read_file("no/such/file")
    # already exists
    with pytest.raises(kled.AlreadyExistsError, match="already exists") as e2:
        manager.create_terminal("local", "t1")
    assert e2.value.kind == "already_exists"
    # invalid argument: name, kind, options, language, timeout, command, path
    for call in (
        lambda: manager.create_terminal("local", "bad name"),
        lambda: manager.create_terminal("local", "-x"),
        lambda: manager.create_terminal("warp-drive", "x"),
        lambda: manager.create_terminal("local", "x", {"no_such_option": 1}),
        lambda: terminal.run_code("cobol", "DISPLAY 'hi'"),
        lambda: terminal.execute("true", timeout=0),
        lambda: terminal.execute("true", timeout=-1),
        lambda: terminal.execute(""),
        lambda: terminal.execute([]),
        lambda: terminal.execute("echo \0"),
        lambda: terminal.execute("true", env={"A=B": "c"}),
        lambda: terminal.read_file(""),
        lambda: terminal.write_file("x", b"", mode=0o17777),
    ):
        with pytest.raises(kled.InvalidArgumentError) as e3:
            call()
        assert isinstance(e3.value, ValueError) and e3.value.kind == "invalid_argument"
    # runtime unavailable: a runtime this machine lacks
    missing = [p.kind for p in manager.providers() if not p.available]
    assert missing, "every runtime is available here: cannot test RuntimeUnavailableError"
    unavailable = []
    for kind in missing:  # options are checked first: the container kinds get an image
        opts = {"image": "localhost/kled-debian"} if kind not in ("local", "neovim") else None
        try:
            manager.create_terminal(kind, "x", opts).remove()
        except kled.RuntimeUnavailableError as e4:
            assert e4.kind == "runtime_unavailable"
            # The core's hint at create, as the method to call.
            assert e4.hint == "Manager.providers() lists what works here", e4.hint
            unavailable.append(kind)
        except kled.InvalidArgumentError:
            pass
    assert unavailable, missing
    # invalid state
    other = manager.create_terminal("local", "not-started")
    with pytest.raises(kled.InvalidStateError, match="created") as e5:
        other.execute("true")
    assert e5.value.kind == "invalid_state"
    # The core's hint, as the method to call: an attribute, and the message's end.
    assert e5.value.hint == 'start it with Manager.get_terminal("not-started").start()'
    assert str(e5.value).endswith("; " + e5.value.hint) and "kled terminal" not in str(e5.value)
    assert pickle.loads(pickle.dumps(e5.value)).hint == e5.value.hint
    assert e.value.hint == "Manager.list_terminals() shows the terminals that exist"
    assert e2.value.hint is None
    # The core's cause, as __cause__: the OS error with its errno.
    with pytest.raises(kled.IoError, match="/dev/null/kled") as e7:
        kled.Manager(state_dir="/dev/null/kled")
    cause = e7.value.__cause__
    assert isinstance(cause, OSError) and cause.errno == errno.ENOTDIR, repr(cause)
    # io: a read that fails with EIO
    with pytest.raises(kled.IoError, match="Input/output error") as e6:
        terminal.read_file("/proc/self/mem")
    assert isinstance(e6.value, OSError) and e6.value.kind == "io"
    with pytest.raises(kled.InvalidArgumentError, match="is a directory"):
        terminal.read_file("/")
    # wrong Python types are TypeErrors
    with pytest.raises(TypeError, match="cmd must be"):
        terminal.execute(42)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="cmd must be"):
        terminal.execute(b"echo")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="env"):
        terminal.execute("true", env={"A": 1})  # type: ignore[dict-item]
    with pytest.raises(TypeError, match="stdin"):
        terminal.execute("cat", stdin=12)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="options must be a dict"):
        manager.create_terminal("local", "x", ["a"])  # type: ignore[arg-type]


def test_error_classes() -> None:
    assert issubclass(kled.TimeoutError, builtins.TimeoutError)
    assert issubclass(kled.IoError, OSError)
    kinds = {}
    for cls in (
        kled.NotFoundError,
        kled.AlreadyExistsError,
        kled.InvalidArgumentError,
        kled.RuntimeUnavailableError,
        kled.InvalidStateError,
        kled.TimeoutError,
        kled.AgentError,
        kled.IoError,
        kled.ConfigError,
        kled.CommandError,
    ):
        assert issubclass(cls, kled.KledError)
        kinds[cls.__name__] = cls.kind
    # one class per core error kind (CommandError reports check()'s kind)
    assert set(kinds.values()) == {
        "not_found", "already_exists", "invalid_argument", "runtime_unavailable",
        "invalid_state", "timeout", "agent", "io", "config",
    }
    e = kled.AgentError("lost")
    again = pickle.loads(pickle.dumps(e))
    assert type(again) is kled.AgentError and str(again) == "lost" and again.message == "lost"


def test_agent_death_is_an_agent_error_then_recovers(terminal: kled.Terminal) -> None:
    agent = int(terminal.execute("echo $PPID").stdout)
    stream = terminal.exec_stream("echo started; sleep 30")
    first = next(stream)
    assert first.kind == "stdout" and first.text == "started\n"
    os.kill(agent, 9)
    with pytest.raises(kled.AgentError, match="lost the connection"):
        for _ in stream:
            pass
    # The next call restarts the agent.
    assert terminal.execute("echo back").stdout == "back\n"
    assert int(terminal.execute("echo $PPID").stdout) != agent


def test_unreadable_record_is_a_warning(manager: kled.Manager, state_dir: str) -> None:
    manager.create_terminal("local", "fine")
    Path(state_dir, "terminals", "broken.json").write_text("{not json")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        names = [i.name for i in manager.list_terminals()]
    assert names == ["fine"]
    assert any("broken" in str(w.message) and w.category is RuntimeWarning for w in caught), caught
    os.remove(Path(state_dir, "terminals", "broken.json"))
