"""CPU and memory of the machine or container this process runs in, as the scaling guide means
them (the replica's, not one Python process's): cgroup v2 when the process is in a limited
container, /proc otherwise. Linux only; elsewhere the readings are None."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

CGROUP = Path("/sys/fs/cgroup")


@dataclass(frozen=True, slots=True)
class CpuReading:
    busy_seconds: float  # CPU time used so far (all cores)
    cores: float  # how many cores' worth may be used (the cgroup quota, else the core count)


def cpu_reading(root: Path = CGROUP, proc: Path = Path("/proc")) -> CpuReading | None:
    """Cumulative busy CPU seconds and the core capacity; utilisation is the change in busy
    seconds over wall seconds x cores between two readings."""
    cores = float(os.cpu_count() or 1)
    with contextlib.suppress(OSError, ValueError):
        quota, period = (root / "cpu.max").read_text().split()[:2]
        if quota != "max":
            cores = min(cores, int(quota) / int(period))
    with contextlib.suppress(OSError, ValueError):
        for line in (root / "cpu.stat").read_text().splitlines():
            name, _, value = line.partition(" ")
            if name == "usage_usec":
                return CpuReading(int(value) / 1_000_000, cores)
    with contextlib.suppress(OSError, ValueError, IndexError):
        fields = (proc / "stat").read_text().splitlines()[0].split()
        # user nice system idle iowait irq softirq steal: busy is all but idle and iowait.
        values = [int(v) for v in fields[1:9]]
        busy = sum(values) - values[3] - values[4]
        return CpuReading(busy / float(os.sysconf("SC_CLK_TCK")), cores)
    return None


def cpu_percent(before: CpuReading, after: CpuReading, wall_seconds: float) -> float:
    """Utilisation between two readings, 0-100 of the capacity."""
    if wall_seconds <= 0 or after.cores <= 0:
        return 0.0
    used = max(after.busy_seconds - before.busy_seconds, 0.0)
    return min(100.0 * used / (wall_seconds * after.cores), 100.0)


def memory_percent(root: Path = CGROUP, proc: Path = Path("/proc")) -> float | None:
    """Memory in use, 0-100: of the cgroup's limit when there is one, else of the machine
    (MemTotal - MemAvailable, so the page cache does not count as used)."""
    with contextlib.suppress(OSError, ValueError):
        limit = (root / "memory.max").read_text().strip()
        if limit != "max":
            current = int((root / "memory.current").read_text())
            return min(100.0 * current / int(limit), 100.0)
    with contextlib.suppress(OSError, ValueError, KeyError):
        info = {}
        for line in (proc / "meminfo").read_text().splitlines():
            name, _, rest = line.partition(":")
            info[name] = int(rest.split()[0])
        total = info["MemTotal"]
        return 100.0 * (total - info["MemAvailable"]) / total if total else None
    return None
