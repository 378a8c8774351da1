"""The machine and the processes: facts, CPU time and memory (psutil)."""

from __future__ import annotations

import os
import platform
import threading
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import psutil

_MB = 1024 * 1024


def machine() -> dict[str, Any]:
    model = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu_count": os.cpu_count(),
        "cpu_model": model or platform.processor(),
        "memory_mb": round(psutil.virtual_memory().total / _MB),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


class Processes:
    """The stack's processes by role, plus the bench itself ("bench client")."""

    def __init__(self, pids: Mapping[str, int]) -> None:
        self._roots = {role: psutil.Process(pid) for role, pid in pids.items()}
        self._bench = psutil.Process()

    @property
    def roles(self) -> list[str]:
        return [*self._roots, "bench client"]

    def _members(self, role: str) -> list[psutil.Process]:
        if role == "bench client":
            return [self._bench]
        root = self._roots[role]
        try:  # Postgres: the postmaster and its backends and workers
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def cpu_snapshot(self) -> dict[str, dict[int, float]]:
        """CPU seconds (user + system) of every member process, by role and pid."""
        snapshot: dict[str, dict[int, float]] = {}
        for role in self.roles:
            times: dict[int, float] = {}
            for process in self._members(role):
                try:
                    cpu = process.cpu_times()
                except psutil.NoSuchProcess:
                    continue
                times[process.pid] = cpu.user + cpu.system
            snapshot[role] = times
        return snapshot

    @staticmethod
    def cpu_spent(
        before: dict[str, dict[int, float]], after: dict[str, dict[int, float]]
    ) -> dict[str, float]:
        """CPU seconds each role spent between two snapshots."""
        return {
            role: sum(t - before.get(role, {}).get(pid, 0.0) for pid, t in times.items())
            for role, times in after.items()
        }

    def memory(self) -> dict[str, dict[str, float]]:
        """RSS and PSS (shared pages split between sharers) of each role, in MB."""
        report: dict[str, dict[str, float]] = {}
        for role in self.roles:
            rss = pss = 0.0
            members = self._members(role)
            for process in members:
                try:
                    info = process.memory_full_info()
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    continue
                rss += info.rss
                pss += getattr(info, "pss", info.rss)
            report[role] = {
                "rss_mb": round(rss / _MB, 1),
                "pss_mb": round(pss / _MB, 1),
                "processes": len(members),
            }
        return report


def rss_mb(pids: Mapping[str, int]) -> dict[str, float]:
    """The RSS of each process right now, in MB (0 for one that is gone)."""
    found: dict[str, float] = {}
    for role, pid in pids.items():
        try:
            found[role] = round(psutil.Process(pid).memory_info().rss / _MB, 1)
        except psutil.NoSuchProcess:
            found[role] = 0.0
    return found


class PeakRss:
    """The highest RSS of some processes while a block runs, polled from a thread.

    One /proc read per process every `interval_s`: cheap enough to leave on
    during a measurement.
    """

    def __init__(self, pids: Mapping[str, int], interval_s: float = 0.02) -> None:
        self._pids = dict(pids)
        self._interval = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, name="peak-rss", daemon=True)
        self.peak_mb: dict[str, float] = dict.fromkeys(pids, 0.0)

    def _sample(self) -> None:
        for role, mb in rss_mb(self._pids).items():
            self.peak_mb[role] = max(self.peak_mb[role], mb)

    def _poll(self) -> None:
        while not self._stop.wait(self._interval):
            self._sample()

    def __enter__(self) -> PeakRss:
        self._sample()
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()
