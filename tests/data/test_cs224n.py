"""The real data source: found in a directory or an archive, verified by SHA-256."""

from __future__ import annotations

import io
import shutil
import tarfile
import zipfile
from pathlib import Path

import pytest

from knowledge_probe.data.cs224n import DIGESTS, DataSourceError, locate, sha256
from knowledge_probe.data.readers import FILE_NAMES


def test_locate_real_directory(real_data_dir: Path, tmp_path: Path) -> None:
    files = locate(real_data_dir, tmp_path / "scratch")
    assert set(files) == set(FILE_NAMES)
    for role, path in files.items():
        assert path.name == FILE_NAMES[role]
        assert sha256(path) == DIGESTS[path.name]
    assert not (tmp_path / "scratch").exists() or not any((tmp_path / "scratch").iterdir())


def test_altered_file_shows_both_digests(real_data_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(real_data_dir, copy)
    altered = copy / "birth_dev.tsv"
    altered.chmod(0o644)
    altered.write_bytes(altered.read_bytes().replace(b"Atlanta", b"Atlantis", 1))
    with pytest.raises(DataSourceError) as info:
        locate(copy, tmp_path / "scratch")
    message = str(info.value)
    assert "birth_dev.tsv" in message
    assert DIGESTS["birth_dev.tsv"] in message
    assert sha256(altered) in message


def test_missing_file_in_directory(real_data_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(real_data_dir, copy)
    (copy / "wiki.txt").unlink()
    with pytest.raises(DataSourceError, match="wiki.txt") as info:
        locate(copy, tmp_path / "scratch")
    assert "data.path" in str(info.value)


def make_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def make_tar(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path


def real_members(real_data_dir: Path, folder: str) -> dict[str, bytes]:
    return {f"{folder}/{name}": (real_data_dir / name).read_bytes() for name in FILE_NAMES.values()}


@pytest.mark.parametrize("maker, suffix", [(make_zip, ".zip"), (make_tar, ".tar.gz")])
def test_archive_with_nested_folder(
    real_data_dir: Path, tmp_path: Path, maker, suffix: str
) -> None:
    members = real_members(real_data_dir, "release/student/data")
    members["release/README.md"] = b"not data"
    archive = maker(tmp_path / f"data{suffix}", members)
    scratch = tmp_path / "scratch"
    files = locate(archive, scratch)
    assert set(files) == set(FILE_NAMES)
    for role, path in files.items():
        assert path.parent == scratch
        assert path.name == FILE_NAMES[role]
        assert path.read_bytes() == (real_data_dir / path.name).read_bytes()
    assert sorted(p.name for p in scratch.iterdir()) == sorted(FILE_NAMES.values())


@pytest.mark.parametrize("maker, suffix", [(make_zip, ".zip"), (make_tar, ".tar.gz")])
def test_archive_with_altered_file_is_refused(
    real_data_dir: Path, tmp_path: Path, maker, suffix: str
) -> None:
    members = real_members(real_data_dir, "data")
    members["data/wiki.txt"] += b"one more line\n"
    archive = maker(tmp_path / f"data{suffix}", members)
    with pytest.raises(DataSourceError, match=DIGESTS["wiki.txt"]):
        locate(archive, tmp_path / "scratch")


@pytest.mark.parametrize("maker, suffix", [(make_zip, ".zip"), (make_tar, ".tar.gz")])
def test_archive_escaping_its_folder_is_refused(tmp_path: Path, maker, suffix: str) -> None:
    members = {f"data/{name}": b"x" for name in FILE_NAMES.values()}
    members["../evil.txt"] = b"evil"
    work = tmp_path / "work"
    work.mkdir()
    archive = maker(tmp_path / f"evil{suffix}", members)
    with pytest.raises(DataSourceError, match="evil.txt"):
        locate(archive, work / "scratch")
    assert not (work / "evil.txt").exists()
    assert not (tmp_path / "evil.txt").exists()


@pytest.mark.parametrize("maker, suffix", [(make_zip, ".zip"), (make_tar, ".tar.gz")])
def test_archive_lacking_files_is_refused(tmp_path: Path, maker, suffix: str) -> None:
    archive = maker(tmp_path / f"partial{suffix}", {"data/wiki.txt": b"x"})
    with pytest.raises(DataSourceError, match="birth_dev.tsv") as info:
        locate(archive, tmp_path / "scratch")
    assert "data.path" in str(info.value)


def test_file_that_is_no_archive_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "data.txt"
    path.write_text("hello", encoding="utf-8")
    with pytest.raises(DataSourceError, match="neither a zip nor a tar"):
        locate(path, tmp_path / "scratch")


def test_missing_path_names_path_and_setting(tmp_path: Path) -> None:
    missing = tmp_path / "no" / "such" / "dir"
    with pytest.raises(DataSourceError) as info:
        locate(missing, tmp_path / "scratch")
    assert str(missing) in str(info.value)
    assert "data.path" in str(info.value)
