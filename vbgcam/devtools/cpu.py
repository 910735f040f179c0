"""CPU time as a user's system monitor counts it: the whole process, its children too.

Every benchmark reports CPU through ``process_cpu_s``: all threads of the process, whoever
started them (a native library's worker pool counts as much as vbgcam's own threads), plus
every process it started, running (``gst-launch-1.0``, read from ``/proc``) or ended. A
figure summed over vbgcam's named threads once hid a spinning OpenBLAS pool that cost three
times what the threads did.
"""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

_PROC = Path("/proc")


def _stat_fields(pid: int) -> list[str] | None:
    """The fields of ``/proc/PID/stat`` after the command name, or None when it is gone."""
    try:
        text = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()


def _ticks_to_s(ticks: int) -> float:
    return ticks / os.sysconf("SC_CLK_TCK")


def _descendants(pid: int) -> list[int]:
    """Every running process below ``pid``, children first."""
    parents: dict[int, list[int]] = {}
    for entry in _PROC.iterdir():
        if entry.name.isdecimal():
            fields = _stat_fields(int(entry.name))
            if fields is not None:
                parents.setdefault(int(fields[1]), []).append(int(entry.name))
    found, frontier = [], [pid]
    while frontier:
        children = parents.get(frontier.pop(), [])
        found.extend(children)
        frontier.extend(children)
    return found


def _own_cpu_s(pid: int, with_reaped_children: bool) -> float:
    """User plus system seconds of one process, and of its children it has waited for."""
    fields = _stat_fields(pid)
    if fields is None:
        return 0.0
    # utime, stime, cutime, cstime are fields 14-17 of stat, 12-15 after the name
    count = 4 if with_reaped_children else 2
    return _ticks_to_s(sum(int(v) for v in fields[11 : 11 + count]))


def process_cpu_s(pid: int | None = None) -> float:
    """User plus system CPU seconds so far of ``pid`` (default: this process), all its
    threads, the children it has reaped and every descendant still running."""
    if pid is None or pid == os.getpid():
        own = resource.getrusage(resource.RUSAGE_SELF)
        reaped = resource.getrusage(resource.RUSAGE_CHILDREN)
        total = own.ru_utime + own.ru_stime + reaped.ru_utime + reaped.ru_stime
        pid = os.getpid()
    else:
        total = _own_cpu_s(pid, with_reaped_children=True)
    if _PROC.is_dir():
        total += sum(_own_cpu_s(child, with_reaped_children=False) for child in _descendants(pid))
    return total


@dataclass
class CpuWindow:
    """What ``measure`` saw: wall and CPU seconds; ``frames`` is set by the caller."""

    wall_s: float = 0.0
    cpu_s: float = 0.0
    frames: int = 0

    @property
    def percent_of_core(self) -> float:
        return 100 * self.cpu_s / self.wall_s if self.wall_s else 0.0

    @property
    def ms_per_frame(self) -> float:
        return 1000 * self.cpu_s / self.frames if self.frames else float("nan")


@contextmanager
def measure(pid: int | None = None) -> Iterator[CpuWindow]:
    """Whole-process CPU and wall time over the ``with`` block."""
    window = CpuWindow()
    wall, cpu = time.monotonic(), process_cpu_s(pid)
    try:
        yield window
    finally:
        window.wall_s = time.monotonic() - wall
        window.cpu_s = process_cpu_s(pid) - cpu
