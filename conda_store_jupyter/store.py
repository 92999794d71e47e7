"""The store on disk: where prefixes, environment links, artifacts and the package cache live.

    <store_dir>/<namespace>/<sha256[:8]>-<unix_ts>-<build_id>-<name>/  immutable build prefix
    <store_dir>/<namespace>/envs/<name> -> ../<build dir>              swapped atomically
    <store_dir>/.artifacts/<build_id>/                                 log, lock file, archive...
    <store_dir>/.pkgs/                                                 shared package cache
    <store_dir>/.trash/                                                prefixes being removed
    <store_dir>/.db/conda-store.sqlite                                 the default database
    <store_dir>/.locks/<namespace>/<name>                              who moves envs/<name>
    <store_dir>/.kernels/<kernel name>/                                a shared store's kernels

Only this module knows the layout; everything else asks it for paths.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

TRASH = ".trash"
# Artifact kinds (the names of `CondaStore.build_artifacts` and of the API's routes) → their file
# in a build's artifacts directory.
ARTIFACT_FILE_NAMES = {
    "logs": "build.log",
    "lockfile": "conda-lock.yml",
    "yaml": "environment.yaml",
    "explicit": "explicit.txt",
    "archive": "environment.tar.gz",
}
_BUILD_DIR = re.compile(r"[0-9a-f]{8}-\d+-(?P<id>\d{1,18})-.+")  # see build_dir_name


class StoreLayout:
    def __init__(self, store_dir: str | os.PathLike[str]):
        self.root = Path(store_dir)

    # -- paths ------------------------------------------------------------------------------
    @property
    def kernels(self) -> Path:
        """A shared store's kernel specs, which every user's server reads (kernels.py)."""
        return self.root / ".kernels"

    @property
    def package_cache(self) -> Path:
        return self.root / ".pkgs"

    @property
    def repodata_cache(self) -> Path:
        return self.root / ".cache" / "repodata"

    @staticmethod
    def build_dir_name(spec_sha256: str, timestamp: int, build_id: int, name: str) -> str:
        return f"{spec_sha256[:8]}-{timestamp}-{build_id}-{name}"

    @staticmethod
    def build_id_of(build_dir: str) -> int | None:
        """The build id in a build directory's name, or None if it is not one."""
        match = _BUILD_DIR.fullmatch(build_dir)
        return int(match["id"]) if match else None

    def namespace_dirs(self) -> list[Path]:
        """Directories of namespaces (everything of the store's own starts with a dot)."""
        try:
            entries = list(os.scandir(self.root))
        except FileNotFoundError:
            return []
        return [
            Path(entry.path)
            for entry in entries
            if not entry.name.startswith(".") and entry.is_dir(follow_symlinks=False)
        ]

    def build_dirs(self) -> list[tuple[str, str]]:
        """(namespace, build directory) of every build prefix on disk."""
        found = []
        for directory in self.namespace_dirs():
            for entry in os.scandir(directory):
                if entry.is_dir(follow_symlinks=False) and self.build_id_of(entry.name) is not None:
                    found.append((directory.name, entry.name))
        return found

    def linked_environments(self) -> list[tuple[str, str]]:
        """(namespace, name) of every envs/<name> link on disk."""
        found = []
        for directory in self.namespace_dirs():
            envs = directory / "envs"
            if envs.is_dir():
                found.extend(
                    (directory.name, entry.name)
                    for entry in os.scandir(envs)
                    if entry.is_symlink() and not entry.name.startswith(".")
                )
        return found

    def namespace_dir(self, namespace: str) -> Path:
        return self.root / namespace

    def build_prefix(self, namespace: str, build_dir: str) -> Path:
        return self.root / namespace / build_dir

    def environment_link(self, namespace: str, name: str) -> Path:
        return self.root / namespace / "envs" / name

    def artifacts_dir(self, build_id: int) -> Path:
        return self.root / ".artifacts" / str(build_id)

    def artifact_path(self, build_id: int, kind: str) -> Path:
        return self.artifacts_dir(build_id) / ARTIFACT_FILE_NAMES[kind]

    def log_path(self, build_id: int) -> Path:
        return self.artifact_path(build_id, "logs")

    # -- changes ----------------------------------------------------------------------------
    def point_environment(self, namespace: str, name: str, build_dir: str) -> Path:
        """Make envs/<name> point at a build prefix, atomically: readers see the old or the new
        prefix, never a missing or half-written link (symlink to a temp name, then rename)."""
        link = self.environment_link(namespace, name)
        link.parent.mkdir(parents=True, exist_ok=True)
        temporary = link.parent / f".{name}.{uuid.uuid4().hex}.tmp"
        os.symlink(Path("..") / build_dir, temporary)
        try:
            os.replace(temporary, link)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        return link

    def linked_build_dir(self, namespace: str, name: str) -> str | None:
        """The build directory envs/<name> points at, or None."""
        link = self.environment_link(namespace, name)
        try:
            return Path(os.readlink(link)).name
        except (FileNotFoundError, OSError):
            return None

    def remove_environment_link(self, namespace: str, name: str) -> None:
        self.environment_link(namespace, name).unlink(missing_ok=True)

    @contextmanager
    def environment_lock(self, namespace: str, name: str) -> Iterator[None]:
        """Held while envs/<name> is set from the database, by every process on every machine
        sharing the store (flock; NFSv4 carries it): two builds completing at once, or a
        completion and a rollback, then cannot leave the link on the one the database did not
        keep (each reads what is current and sets the link inside the lock)."""
        path = self.root / ".locks" / namespace / name
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the lock

    def remove_tree(self, path: Path) -> None:
        """Remove a directory so that it stops being reachable at once: rename it into the trash
        (atomic), then delete. A crash mid-delete leaves garbage only in .trash/."""
        if not path.exists() and not path.is_symlink():
            return
        if path.is_symlink() or not path.is_dir():
            path.unlink(missing_ok=True)
            return
        trash = self.root / TRASH
        trash.mkdir(parents=True, exist_ok=True)
        doomed = trash / f"{path.name}.{uuid.uuid4().hex}"
        os.rename(path, doomed)
        shutil.rmtree(doomed, ignore_errors=True)

    def remove_unless_running(self, path: Path) -> bool:
        """Remove `path` (as `remove_tree`) unless it is a prefix a kernel runs: the kernels'
        activation script (kernels.py) holds a shared lock on the prefix's conda-meta/ for as
        long as the kernel lives, so a prefix is taken from under no kernel (its imports would
        fail); a later sweep of orphan prefixes removes it once the last one has stopped. The
        lock is held across the removal: a kernel starting meanwhile waits, then finds no
        prefix. True if removed (or not there)."""
        try:
            fd = os.open(path / "conda-meta", os.O_RDONLY)
        except OSError:  # not a prefix (an artifacts directory), or not there
            self.remove_tree(path)
            return True
        try:
            if not _lock_unless_running(fd):
                return False
            self.remove_tree(path)
            return True
        finally:
            os.close(fd)

    @staticmethod
    def in_use(path: Path) -> bool:
        """Whether a kernel runs the prefix `path` now (see `remove_unless_running`)."""
        try:
            fd = os.open(path / "conda-meta", os.O_RDONLY)
        except OSError:
            return False
        try:
            return not _lock_unless_running(fd)
        finally:
            os.close(fd)  # (and with it the lock, if taken)

    def measure(self) -> tuple[int, int, dict[str, int]]:
        """(the store's bytes, its package cache's, each namespace directory's), in one walk
        (`tree_usage`): for `GET usage/` and garbage collection's report alike."""
        total, by_directory = tree_usage(self.root)
        cache = self.package_cache
        if cache.parent == self.root:
            return total, by_directory.get(cache.name, 0), by_directory
        return total, disk_usage(cache), by_directory

    def remove_prefix(self, namespace: str, build_dir: str) -> bool:
        """Remove a build's prefix unless a kernel runs it (see `remove_unless_running`)."""
        return self.remove_unless_running(self.build_prefix(namespace, build_dir))

    def empty_trash(self) -> None:
        shutil.rmtree(self.root / TRASH, ignore_errors=True)


def _lock_unless_running(fd: int, patience: float = 10.0) -> bool:
    """Take the exclusive lock on a prefix's conda-meta/ (`fd`) unless a kernel holds it shared:
    True once taken, False if a kernel runs the prefix. Another process that holds it
    exclusively (a delete, a sweep or a collection looking at the same prefix) holds it only
    for a moment, so that one is waited for, not taken for a kernel."""
    deadline = time.monotonic() + patience
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            pass
        try:  # granted only while nobody holds it exclusively: then its holders are kernels
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
            continue
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False


def human_size(size: float | None) -> str:
    """Bytes as people read them: 512 B, 1.5 KiB, 40.0 MiB ("? B" when unknown)."""
    if size is None:
        return "? B"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size} B"


def link_identical(prefix: Path, sibling: Path) -> int:
    """Make each file of `prefix` that has the same bytes as the file at the same path in
    `sibling` a hard link to it; returns the bytes now shared. Prefixes are immutable, and the
    package cache already links most of their files: what is left (conda-meta records, compiled
    files, files whose prefix was written into them, which differ and stay) is what a copy of
    an environment would otherwise cost again."""
    import filecmp
    import stat as stat_module

    shared = 0
    for directory, _, files in os.walk(prefix):
        for name in files:
            path = Path(directory, name)
            other = sibling / path.relative_to(prefix)
            try:
                mine, theirs = path.lstat(), other.lstat()
            except OSError:
                continue
            if (
                mine.st_nlink > 1  # (linked from the package cache already)
                or not stat_module.S_ISREG(mine.st_mode)
                or not stat_module.S_ISREG(theirs.st_mode)
                or mine.st_size != theirs.st_size
                or mine.st_mode != theirs.st_mode
                or not filecmp.cmp(path, other, shallow=False)
            ):
                continue
            temporary = path.with_name(f".{name}.{uuid.uuid4().hex[:8]}")
            os.link(other, temporary)
            os.replace(temporary, path)  # (atomic: the path never goes missing)
            shared += mine.st_size
    return shared


def tree_usage(root: Path) -> tuple[int, dict[str, int]]:
    """(bytes of the whole tree, bytes of each top-level directory), in one walk: each counted
    as `disk_usage` counts it (a hard-linked inode once within the tree, once within each
    directory). The store's namespaces and its package cache are its top-level directories, so
    `GET usage/` walks the store once instead of once per namespace and then again whole."""
    everywhere: set[tuple[int, int]] = set()
    total, by_directory = 0, {}
    try:
        entries = list(os.scandir(root))
    except FileNotFoundError:
        return 0, {}
    for entry in entries:
        if not entry.is_dir(follow_symlinks=False):
            try:
                total += entry.stat(follow_symlinks=False).st_size
            except FileNotFoundError:
                pass
            continue
        here: set[tuple[int, int]] = set()
        size = 0
        for stat in _files(Path(entry.path)):
            if stat.st_nlink > 1:
                key = (stat.st_dev, stat.st_ino)
                if key not in here:
                    here.add(key)
                    size += stat.st_size
                if key in everywhere:
                    continue
                everywhere.add(key)
            total += stat.st_size
            if stat.st_nlink == 1:
                size += stat.st_size
        by_directory[entry.name] = size
    return total, by_directory


def _files(path: Path) -> Iterator[os.stat_result]:
    """The lstat of every file and symbolic link under `path`. (os.walk lists a symbolic link
    to a directory, such as envs/<name>, with the directories, and does not follow it: it is
    counted, as a link, with the files.)"""
    for directory, dirs, files in os.walk(path):
        links = [name for name in dirs if os.path.islink(os.path.join(directory, name))]
        for name in (*files, *links):
            try:
                yield os.lstat(os.path.join(directory, name))
            except FileNotFoundError:
                continue


def disk_usage(path: Path, seen: set[tuple[int, int]] | None = None) -> int:
    """Bytes of the files and symbolic links under `path`, counting each hard-linked inode once
    (the package cache and many prefixes share files, so a naive sum would count them again and
    again), and not at all if it is in `seen` already (which it fills: pass one set to count
    several trees together)."""
    seen = set() if seen is None else seen
    total = 0
    for stat in _files(path):
        if stat.st_nlink > 1:
            key = (stat.st_dev, stat.st_ino)
            if key in seen:
                continue
            seen.add(key)
        total += stat.st_size
    return total
