"""The compile cache: libraries built for the cpu target, reused across processes.

An entry is a directory named by the cache key, holding the shared library the LLVM
module was compiled into and `manifest.json` (the compiled functions' signatures, so a
cache hit neither derives the training step nor lowers anything). The key is a SHA-256
of the model's IR text, the compile options, tcc's version and a fingerprint of tcc's
own sources (their sizes and modification times: editing the compiler invalidates every
entry), and the host (the code is built for this machine's CPU).

Directory: $TCC_CACHE_DIR, else ~/.cache/tcc. Entries are written to a temporary
directory and renamed into place, so concurrent compiles of the same model are safe
(the first rename wins). `tcc.compiler.cache.Cache().clear()` empties it.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import hashlib
import json
import os
import platform
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .errors import InputError

CACHE_ENV = "TCC_CACHE_DIR"
MANIFEST = "manifest.json"
FORMAT = 1                     # bump when the entry layout changes

_PACKAGE = Path(__file__).resolve().parents[1]
_SOURCE_DIRS = ("compiler", "passes", "dialects", "runtime", "kernels", "_mlir/_mlir_libs")


def default_directory() -> Path:
    value = os.environ.get(CACHE_ENV)
    if value:
        return Path(value).expanduser()
    return Path.home() / ".cache" / "tcc"


@functools.lru_cache(maxsize=None)
def fingerprint() -> str:
    """tcc's version plus the size and mtime of every source file and native library of
    the package: a changed compiler never reuses an old entry."""
    from .. import __version__
    digest = hashlib.sha256(f"tcc {__version__}".encode())
    for folder in _SOURCE_DIRS:
        root = _PACKAGE / folder
        if not root.exists():
            continue
        for path in sorted(root.rglob("*")):
            if path.suffix in (".py", ".so", ".c", ".h", ".td") and "__pycache__" not in path.parts:
                try:
                    stat = path.stat()
                except OSError:
                    continue
                digest.update(f"{path.relative_to(_PACKAGE)}:{stat.st_size}:"
                              f"{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


@functools.lru_cache(maxsize=None)
def host() -> str:
    """The machine the code is built for: architecture and CPU feature flags."""
    flags = ""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith(("flags", "Features", "model name")):
                    flags += line
                if line.strip() == "":
                    break
    except OSError:
        pass
    return platform.machine() + ":" + hashlib.sha256(flags.encode()).hexdigest()[:12]


def cache_key(ir_text: str, options: dict) -> str:
    """The key of a model's IR text compiled with `options` (JSON-able)."""
    payload = json.dumps({"format": FORMAT, "ir": hashlib.sha256(ir_text.encode()).hexdigest(),
                          "options": options, "tcc": fingerprint(), "host": host()},
                         sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:32]


@dataclass
class Entry:
    """One cached compile."""

    key: str
    directory: Path
    manifest: dict

    @property
    def library(self) -> Path:
        return self.directory / self.manifest["library"]


class Cache:
    """Compiled libraries by key under one directory."""

    def __init__(self, directory: str | Path | None = None):
        self.directory = Path(directory) if directory is not None else default_directory()

    def lookup(self, key: str) -> Entry | None:
        """The entry for `key`, or None (also for a broken or foreign entry)."""
        directory = self.directory / key
        try:
            manifest = json.loads((directory / MANIFEST).read_text())
        except (OSError, ValueError):
            return None
        if manifest.get("format") != FORMAT or manifest.get("key") != key:
            return None
        entry = Entry(key, directory, manifest)
        return entry if entry.library.is_file() else None

    @contextlib.contextmanager
    def building(self, key: str):
        """A fresh temporary directory in the cache to build an entry in; removed
        unless `commit` moved it into place."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            temporary = Path(tempfile.mkdtemp(prefix=f".{key[:8]}-", dir=self.directory))
        except OSError as error:
            raise InputError(f"cannot write the compile cache ({error}); set {CACHE_ENV} "
                             "or compile with cache=False", str(self.directory)) from None
        try:
            yield temporary
        finally:
            if temporary.exists():
                shutil.rmtree(temporary, ignore_errors=True)

    def commit(self, key: str, temporary: Path, library: Path, manifest: dict) -> Entry:
        """Writes the manifest and moves the built directory to its key."""
        manifest = {**manifest, "format": FORMAT, "key": key,
                    "library": str(Path(library).relative_to(temporary))}
        (temporary / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True))
        final = self.directory / key
        try:
            os.rename(temporary, final)
        except OSError:
            # Another process stored the same key first (or a stale entry is there).
            existing = self.lookup(key)
            if existing is not None:
                return existing
            shutil.rmtree(final, ignore_errors=True)
            os.rename(temporary, final)
        return Entry(key, final, manifest)

    def entries(self) -> list[Entry]:
        if not self.directory.is_dir():
            return []
        found = (self.lookup(p.name) for p in sorted(self.directory.iterdir())
                 if p.is_dir() and not p.name.startswith("."))
        return [e for e in found if e is not None]

    def clear(self) -> None:
        """Removes every entry (and leftovers of interrupted builds)."""
        if not self.directory.is_dir():
            return
        for path in self.directory.iterdir():
            if path.is_dir() and (path.name.startswith(".") or (path / MANIFEST).exists()):
                shutil.rmtree(path, ignore_errors=True)


_scratch: list[Path] = []


def scratch_directory() -> Path:
    """A temporary directory for an uncached build, removed at exit (a library loaded
    from it stays mapped)."""
    path = Path(tempfile.mkdtemp(prefix="tcc-build-"))
    if not _scratch:
        atexit.register(lambda: [shutil.rmtree(p, ignore_errors=True) for p in _scratch])
    _scratch.append(path)
    return path
