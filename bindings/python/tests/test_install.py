"""The package as installed: where it came from, the wheel's contents, containers."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import pytest

import kled
import kled._kled


def test_imported_from_the_installed_wheel() -> None:
    expected = os.environ.get("KLED_EXPECT_INSTALLED_IN")
    if not expected:
        pytest.skip("KLED_EXPECT_INSTALLED_IN is not set (scripts/suites/30-python.sh sets it)")
    for module in (kled, kled._kled):
        path = Path(module.__file__ or "").resolve()
        assert str(path).startswith(str(Path(expected).resolve())), (module, path)
    assert Path(sys.prefix).resolve() == Path(expected).resolve()


def test_package_files() -> None:
    root = Path(kled.__file__).parent
    assert (root / "py.typed").exists()
    assert (root / "_kled.pyi").exists()
    assert kled._kled.__file__ and ".abi3." in Path(kled._kled.__file__).name


def test_container_terminal(manager: kled.Manager) -> None:
    """Container terminals, when this machine has an engine (skipped with the reason otherwise)."""
    provider = {p.kind: p for p in manager.providers()}["container"]
    if not provider.available:
        pytest.skip(f"container runtime unavailable here: {provider.reason}")
    image = os.environ.get("KLED_TEST_IMAGE", "localhost/kled-busybox")
    try:
        t = manager.create_terminal("container", "py-ctr", {"image": image})
    except kled.RuntimeUnavailableError as e:
        pytest.skip(f"container engine unavailable: {e}")
    try:
        try:
            t.start()
        except (kled.RuntimeUnavailableError, kled.NotFoundError) as e:
            pytest.skip(f"container engine or image {image} unavailable: {e}")
        r = t.execute("echo from-container; hostname")
        assert r.ok and r.stdout.startswith("from-container\n")
        assert r.stdout.split("\n")[1] != socket.gethostname(), "not in a container"
        t.write_file("/tmp/x.txt", b"\x00\xffbin")
        assert t.read_file("/tmp/x.txt") == b"\x00\xffbin"
        assert t.execute(["sh", "-c", "exit 3"]).exit_code == 3
    finally:
        t.remove()
