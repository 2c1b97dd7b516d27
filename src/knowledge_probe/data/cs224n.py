"""Data files read from a directory or a local zip/tar archive: the course's real data set,
verified by SHA-256, or a user's own files of the same four names (no digests)."""

from __future__ import annotations

import hashlib
import tarfile
import zipfile
from pathlib import Path

from knowledge_probe.data.readers import FILE_NAMES

DIGESTS = {
    "birth_dev.tsv": "101a56073eba0db9aad5e2aaf1aa9bf8bdae966ae3aaed8fc8cda5edfa7856da",
    "birth_places_train.tsv": "02364dfca78e23d2583a19f03a2d8cddd90ee3e1a3795ddec7f0addadea30b0d",
    "birth_test_inputs.tsv": "5ccd3b2a1682e0daf90d59488aef8805ef21b9d35795cc3bdabdea79d293aa1f",
    "wiki.txt": "823bb536fca77c8b5a15b34b0dead6355d0cf1f806e822464bca28806c2fd055",
}
HOW_TO_PROVIDE = (
    "put wiki.txt, birth_places_train.tsv, birth_dev.tsv and birth_test_inputs.tsv in one directory "
    "(or a .zip/.tar.gz containing them) and set data.path=/that/path"
)


class DataSourceError(RuntimeError):
    """The data files cannot be found, or the real data does not match its published digests."""


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify(directory: Path, digests: dict[str, str] | None = DIGESTS) -> dict[str, Path]:
    """Return the four files by role, after checking each digest unless `digests` is None."""
    files = {}
    for role, name in FILE_NAMES.items():
        path = directory / name
        if not path.is_file():
            raise DataSourceError(f"{path} is missing; {HOW_TO_PROVIDE}")
        if digests is None:
            files[role] = path
            continue
        actual = sha256(path)
        if actual != digests[name]:
            raise DataSourceError(
                f"{path}: SHA-256 {actual} differs from the published {digests[name]}; the file is altered or a different edition"
            )
        files[role] = path
    return files


def _safe_target(root: Path, member: str) -> Path:
    target = (root / member).resolve()
    if not target.is_relative_to(root.resolve()):
        raise DataSourceError(
            f"archive member {member!r} would be written outside {root}; refusing the archive"
        )
    return target


def extract(archive: Path, target: Path) -> Path:
    """Extract only the four data files (wherever they sit inside) into `target`, refusing path escapes."""
    target.mkdir(parents=True, exist_ok=True)
    wanted = set(FILE_NAMES.values())
    found: dict[str, bytes] = {}
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                _safe_target(target, info.filename)
                if Path(info.filename).name in wanted and not info.is_dir():
                    found[Path(info.filename).name] = zf.read(info)
    elif tarfile.is_tarfile(archive):
        with tarfile.open(archive) as tf:
            for member in tf.getmembers():
                _safe_target(target, member.name)
                if member.issym() or member.islnk():
                    continue
                if Path(member.name).name in wanted and member.isfile():
                    found[Path(member.name).name] = tf.extractfile(member).read()
    else:
        raise DataSourceError(f"{archive} is neither a zip nor a tar archive; {HOW_TO_PROVIDE}")
    missing = wanted - set(found)
    if missing:
        raise DataSourceError(f"{archive} lacks {sorted(missing)}; {HOW_TO_PROVIDE}")
    for name, content in found.items():
        (target / name).write_bytes(content)
    return target


def locate(
    path: str | Path | None, scratch: Path, digests: dict[str, str] | None = DIGESTS
) -> dict[str, Path]:
    """Find, unpack if needed, and verify the files (against `digests` unless None);
    `scratch` receives archive contents."""
    if path is None:
        raise DataSourceError(f"data.path is not set; {HOW_TO_PROVIDE}")
    path = Path(path).expanduser()
    if not path.exists():
        what = "real data" if digests is not None else "data files"
        raise DataSourceError(f"{what} not found at {path.resolve()}; {HOW_TO_PROVIDE}")
    directory = extract(path, scratch) if path.is_file() else path
    return verify(directory, digests)
