"""The on-disk cache of compiled programs.

Entries live under ``$ZYX_CACHE_DIR`` or ``$XDG_CACHE_HOME/zyx`` (``~/.cache/zyx``),
keyed by a hash of everything that determines the binary (source, compiler version,
flags, device). Each entry is written atomically (temp file + rename) together with a
digest of its bytes; an entry whose bytes do not match its digest - truncated, corrupt
or half written - is ignored and rebuilt, never loaded. ``ZYX_DISABLE_DISK_CACHE=1``
turns the cache off. A cache directory that cannot be used (not creatable, a file, read
only, under ``/proc``) turns it off too, with one warning: zyx then compiles into temporary
files, as with the cache off.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
import warnings
from pathlib import Path

# cache directories found unusable in this process -> the error, reported once each
_unusable: dict[str, str] = {}


def cache_dir_str() -> str:
    """The cache directory's path (not created): what in-process memos of entries key by."""
    d = os.environ.get("ZYX_CACHE_DIR")
    if d:
        return d
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "zyx")


_made: set[str] = set()  # directories made (or found) in this process
# entries whose bytes matched their digest in this process: path -> (mtime_ns, size, Path); an
# entry replaced since (another process rewrote it) has another stat and is verified again.
# A warm process looks up a few entries per kernel: this keeps each lookup to one stat
_verified: dict[str, tuple[int, int, Path]] = {}


def cache_dir() -> Path:
    d = cache_dir_str()
    if d not in _made:
        os.makedirs(d, exist_ok=True)
        _made.add(d)
    return Path(d)


def enabled() -> bool:
    """Whether the disk cache is in use: not turned off, and its directory not found
    unusable."""
    return os.environ.get("ZYX_DISABLE_DISK_CACHE", "0") in ("", "0") and (not _unusable or cache_dir_str() not in _unusable)


def _give_up(err: OSError) -> None:
    """The cache directory failed: warn once and run without the disk cache."""
    d = cache_dir_str()
    if d not in _unusable:
        _unusable[d] = f"{type(err).__name__}: {err}"
        warnings.warn(f"zyx: the kernel cache directory {d} cannot be used ({_unusable[d]}); running "
                      "without the disk cache. Set ZYX_CACHE_DIR to a writable directory (or "
                      "ZYX_DISABLE_DISK_CACHE=1 to silence this).", RuntimeWarning, stacklevel=3)


_code_version: str | None = None


def code_version() -> str:
    """A digest of zyx's own source files (names, sizes, modification times): entries
    derived by zyx's Python code (the realizer's stored kernel plans) are keyed by it, so
    another version - or an edited checkout - never reads them."""
    global _code_version
    if _code_version is None:
        rows: list[str] = []

        def scan(d: str, rel: str) -> None:  # (os.scandir: a warm process pays this once, ~0.3 ms)
            for e in os.scandir(d):
                if e.is_dir():
                    if e.name != "__pycache__":
                        scan(e.path, rel + e.name + "/")
                elif e.name.endswith(".py"):
                    st = e.stat()
                    rows.append(f"{rel}{e.name} {st.st_size} {st.st_mtime_ns}\n")
        scan(os.path.dirname(os.path.abspath(__file__)), "")
        _code_version = hashlib.sha256("".join(sorted(rows)).encode()).hexdigest()[:20]
    return _code_version


def key_of(*parts) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p if isinstance(p, bytes) else str(p).encode())
        h.update(b"\0")
    return h.hexdigest()[:40]


def entry_str(namespace: str, key: str, suffix: str) -> str:
    """An entry's path as a string (its directory made)."""
    d = os.path.join(cache_dir_str(), namespace)
    if d not in _made:
        os.makedirs(d, exist_ok=True)
        _made.add(d)
    return os.path.join(d, key + suffix)


def entry_path(namespace: str, key: str, suffix: str) -> Path:
    return Path(entry_str(namespace, key, suffix))


def _entry_or_none(namespace: str, key: str, suffix: str) -> str | None:
    """An entry's path where the cache is on and its directory usable."""
    if not enabled():
        return None
    try:
        return entry_str(namespace, key, suffix)
    except OSError as e:
        _give_up(e)
        return None


def read(namespace: str, key: str, suffix: str) -> Path | None:
    """Path of a verified entry, or None when missing or corrupt."""
    path = _entry_or_none(namespace, key, suffix)
    if path is None:
        return None
    try:
        st = os.stat(path)
        seen = _verified.get(path)
        if seen is not None and seen[0] == st.st_mtime_ns and seen[1] == st.st_size:
            return seen[2]
    except OSError:
        return None
    if _verified_bytes(path) is None:
        return None
    out = Path(path)
    _verified[path] = (st.st_mtime_ns, st.st_size, out)
    return out


def read_bytes(namespace: str, key: str, suffix: str) -> bytes | None:
    """The contents of a verified entry, or None when missing or corrupt: for an entry that is
    read, not opened by its path (``read`` and then reading the file read it twice)."""
    path = _entry_or_none(namespace, key, suffix)
    return _verified_bytes(path) if path is not None else None


def _verified_bytes(path: str) -> bytes | None:
    try:
        with open(path, "rb") as f:
            data = f.read()
        with open(path + ".sha256", "rb") as f:
            want = f.read().strip()
    except OSError:
        return None
    return data if hashlib.sha256(data).hexdigest().encode() == want else None


def write(namespace: str, key: str, suffix: str, data: bytes) -> Path | None:
    """Write an entry atomically; its path, or None where the cache is off (or its
    directory cannot be written): nothing is written then."""
    if enabled():
        try:
            path = entry_path(namespace, key, suffix)
            path.parent.mkdir(parents=True, exist_ok=True)  # (removed since it was made?)
            _atomic_write(path, data)
            _atomic_write(path.with_name(path.name + ".sha256"), hashlib.sha256(data).hexdigest().encode())
            return path
        except OSError as e:
            _give_up(e)
    return None


def write_loadable(namespace: str, key: str, suffix: str, data: bytes) -> tuple[Path, bool]:
    """``write`` for a file that is opened by its path (a shared object to load): (the
    entry's path, False), or - where the cache is off - (a temporary file's path, True): the
    caller removes that file once it has loaded it (a loaded library stays mapped). With
    the cache off every compile wrote such a file and none was removed: a day of test runs
    left thousands in /tmp."""
    path = write(namespace, key, suffix, data)
    if path is not None:
        return path, False
    fd, tmp = tempfile.mkstemp(suffix=suffix, prefix="zyx-")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    return Path(tmp), True


def open_loadable(written: tuple[Path, bool], opener):
    """``opener(path)`` (``ctypes.CDLL``, an extension loader) of what ``write_loadable``
    gave; a temporary file is removed once opened (a loaded library stays mapped)."""
    path, temporary = written
    try:
        return opener(str(path))
    finally:
        if temporary:
            path.unlink(missing_ok=True)


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
