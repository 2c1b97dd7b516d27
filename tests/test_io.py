"""Atomic output: a failed write leaves the old file untouched and no temporary file behind."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from knowledge_probe.io import atomic_open, atomic_path, write_json, write_text, write_with


class Boom(RuntimeError):
    pass


@pytest.fixture
def existing(tmp_path: Path) -> Path:
    path = tmp_path / "out" / "metrics.json"
    path.parent.mkdir()
    path.write_text("old content\n", encoding="utf-8")
    return path


def assert_untouched(path: Path) -> None:
    assert path.read_text(encoding="utf-8") == "old content\n"
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]


def test_atomic_open_failure_keeps_old_file(existing: Path) -> None:
    with pytest.raises(Boom), atomic_open(existing) as handle:
        handle.write("new half")
        handle.flush()
        raise Boom
    assert_untouched(existing)


def test_write_with_failure_keeps_old_file(existing: Path) -> None:
    def writer(tmp: Path) -> None:
        tmp.write_bytes(b"partial")
        raise Boom

    with pytest.raises(Boom):
        write_with(existing, writer)
    assert_untouched(existing)


def test_atomic_path_failure_keeps_old_file(existing: Path) -> None:
    with pytest.raises(Boom), atomic_path(existing) as tmp:
        assert tmp.parent == existing.parent and tmp != existing
        tmp.write_text("partial", encoding="utf-8")
        raise Boom
    assert_untouched(existing)


def test_unserialisable_json_keeps_old_file(existing: Path) -> None:
    with pytest.raises(TypeError):
        write_json(existing, {"fine": 1, "bad": object()})
    assert_untouched(existing)


def test_failure_without_old_file_leaves_nothing(tmp_path: Path) -> None:
    path = tmp_path / "new" / "file.txt"
    with pytest.raises(Boom), atomic_open(path) as handle:
        handle.write("x")
        raise Boom
    assert not path.exists()
    assert list(path.parent.iterdir()) == []


def test_successful_writes_replace_and_leave_no_temporary(existing: Path) -> None:
    write_text(existing, "new content\n")
    assert existing.read_text(encoding="utf-8") == "new content\n"
    write_json(existing, {"b": 1, "a": "Zürich"})
    text = existing.read_text(encoding="utf-8")
    assert json.loads(text) == {"a": "Zürich", "b": 1}
    assert text.endswith("\n") and "Zürich" in text and text.index('"a"') < text.index('"b"')
    write_with(existing, lambda tmp: tmp.write_bytes(b"\x00\x01"))
    assert existing.read_bytes() == b"\x00\x01"
    with atomic_open(existing, "wb") as handle:
        handle.write(b"bytes")
    assert existing.read_bytes() == b"bytes"
    assert [p.name for p in existing.parent.iterdir()] == [existing.name]


def test_text_is_utf8_with_unix_newlines(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "report.txt"
    write_text(path, "é\nline\n")
    assert path.read_bytes() == "é\nline\n".encode()


def test_published_files_get_the_usual_permissions(tmp_path: Path) -> None:
    old_umask = os.umask(0o022)
    try:
        plain = tmp_path / "plain.txt"
        plain.write_text("x", encoding="utf-8")
        atomic = tmp_path / "atomic.txt"
        write_text(atomic, "x")
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(atomic.stat().st_mode) == stat.S_IMODE(plain.stat().st_mode)


_SLOW_WRITER = """
import sys, time
from pathlib import Path
from knowledge_probe.io import write_with

def slow(tmp: Path) -> None:
    with open(tmp, "w") as handle:
        handle.write("half of the new")
        handle.flush()
        print("writing", flush=True)
        time.sleep(60)
        handle.write(" content")

write_with(sys.argv[1], slow)
"""


def test_process_killed_mid_write_leaves_the_old_file(existing: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", _SLOW_WRITER, str(existing)], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout.readline().strip() == "writing"  # the temporary file is half written
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert existing.read_text(encoding="utf-8") == "old content\n"
    leftovers = [p.name for p in existing.parent.iterdir() if p != existing]
    assert all(
        name.startswith(f".{existing.name}.") and name.endswith(".tmp") for name in leftovers
    )
