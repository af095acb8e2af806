"""Runs whose process is gone, and files no one will claim: found and removed safely.

A ``train`` killed with ``kill -9`` (or by the out-of-memory killer, or a power cut)
cannot record that it stopped: its run stays ``running`` and its temporary files -- a model
file being written, run files, a snapshot -- stay on disk. Every such file carries an
*owner tag* naming the process that writes it: ``<pid>.<start>@<host>`` (the process id, its
start time in clock ticks since boot where the system says, and a short hash of the host
name), so a later process can tell a file whose writer is still at work from one whose
writer is gone, even when the process id has been reused since.

- :func:`interrupted_runs` finds runs whose owner is gone (``run-<id>.owner`` markers,
  written by ``Store.create_run`` and removed by ``Store.finish_run``);
- :func:`orphan_files` finds temporary files of gone writers, model files no version
  references whose writer is gone, and untagged leftovers older than a safety age.

Only files of this host are judged by their tag: another host's processes cannot be seen
from here (a shared artifact folder), so its files wait for the age rule.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import socket
import time
from collections.abc import Iterable
from pathlib import Path

__all__ = ["interrupted_runs", "orphan_files", "owner_marker", "owner_tag", "remove_orphans"]

log = logging.getLogger("modelloop.store")

_TAG = re.compile(r"(?P<pid>\d+)\.(?P<start>\d+)@(?P<host>[0-9a-f]{8})")
_OWNER = re.compile(r"^(?P<tag>\d+\.\d+@[0-9a-f]{8})-run-(?P<run>[0-9a-f]{32})\.owner$")


def _host() -> str:
    return hashlib.sha1(socket.gethostname().encode()).hexdigest()[:8]


def _start_ticks(pid: int) -> int:
    """When process ``pid`` started, in clock ticks since boot (Linux); 0 when unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return int(stat.rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return 0


def owner_tag() -> str:
    """The tag of this process: ``<pid>.<start ticks>@<host hash>``."""
    pid = os.getpid()
    return f"{pid}.{_start_ticks(pid)}@{_host()}"


def owner_marker(tmp_dir: Path, run_id: str) -> Path:
    """The marker file saying that this process runs ``run_id``."""
    return tmp_dir / f"{owner_tag()}-run-{run_id}.owner"


def _gone(pid: int, start: int) -> bool:
    """Whether the process ``pid`` that started at ``start`` (ticks) no longer runs."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, but another user's: compare start times below
        pass
    now = _start_ticks(pid)
    return bool(start and now and now != start)  # the pid was reused by a later process


def writer_gone(name: str) -> bool | None:
    """``True`` when the tag in ``name`` names a process of this host that is gone,
    ``False`` when it still runs, ``None`` when the name has no tag of this host."""
    match = _TAG.search(name)
    if match is None or match["host"] != _host():
        return None
    return _gone(int(match["pid"]), int(match["start"]))


def interrupted_runs(tmp_dir: Path) -> list[tuple[str, Path]]:
    """``(run id, marker)`` of every run whose owner process is gone."""
    out = []
    for marker in sorted(tmp_dir.glob("*-run-*.owner")):
        match = _OWNER.match(marker.name)
        if match is not None and writer_gone(match["tag"]):
            out.append((match["run"], marker))
    return out


def orphan_files(
    artifacts_dir: Path, referenced: set[str], *, min_age_seconds: float
) -> list[Path]:
    """Files and temporary folders no one will claim (see the module docstring).

    ``referenced`` holds the artifact paths the store's rows point at (relative, POSIX).
    A file of a writer still at work is never listed; an untagged file only when it is
    older than ``min_age_seconds``.
    """
    cutoff = time.time() - min_age_seconds
    out: list[Path] = []

    def consider(paths: Iterable[Path], *, skip_referenced: bool) -> None:
        for path in paths:
            if path.name.endswith(".owner"):
                continue  # run markers: see interrupted_runs
            if skip_referenced and path.relative_to(artifacts_dir).as_posix() in referenced:
                continue
            gone = writer_gone(path.name)
            if gone is False:
                continue
            try:
                if gone is None and path.stat().st_mtime > cutoff:
                    continue
            except FileNotFoundError:
                continue
            out.append(path)

    tmp = artifacts_dir / "tmp"
    consider(tmp.iterdir() if tmp.is_dir() else (), skip_referenced=False)
    consider((artifacts_dir / "models").rglob("*.skops"), skip_referenced=True)
    consider((artifacts_dir / "snapshots").rglob("*.parquet"), skip_referenced=True)
    return sorted(out)


def remove_orphans(
    artifacts_dir: Path, referenced: set[str], *, min_age_seconds: float
) -> list[Path]:
    """Delete what :func:`orphan_files` lists; returns what went.

    A file that cannot be removed now (in use, no permission) is logged and tried again
    next time.
    """
    removed = []
    for path in orphan_files(artifacts_dir, referenced, min_age_seconds=min_age_seconds):
        try:
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()
        except FileNotFoundError:
            continue
        except OSError as exc:
            log.warning("could not remove the orphan file %s: %s", path, exc)
            continue
        removed.append(path)
    return removed
