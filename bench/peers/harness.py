"""Shared, standard-library-only helpers for the peer benchmark.

Imported by ``run_peers.py`` (peer venv), ``run_bubbleup.py`` (project venv) and
``compare.py`` (any Python), so it must not import anything outside the standard library.

Explanations from every tool are normalised to a list of *items*, each a dict:

* ``{"attribute": a, "op": "=", "value": v}``
* ``{"attribute": a, "op": "is_null"}``
* ``{"attribute": a, "op": "range", "low": lo, "high": hi}`` (``None`` = unbounded; the
  bounds' closedness is ignored)
"""

from __future__ import annotations

import json
import math
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
SCENARIOS = ["single", "pair", "triple", "customer", "threshold", "missing", "alias", "sampling"]
RESULT_PREFIX = "PEER_RESULT "
#: The planted ``x <= 5.0`` threshold matches a range with no lower bound whose upper bound
#: is within this distance of the planted value.
THRESHOLD_TOLERANCE = 2.0

Item = dict[str, Any]


@dataclass
class RunResult:
    """One tool on one scenario."""

    scenario: str
    tool: str
    status: str  # "ok", "timeout", "oom", "error"
    rank: int | None = None  # 1-based rank of the planted cause; None = not reported
    reported: int | None = None  # how many explanations the tool reported
    seconds: float | None = None  # wall seconds of the work (reading the file included)
    peak_mb: float | None = None  # the child process's peak RSS (getrusage via wait4)
    top: list[str] = field(default_factory=list)  # labels of the first few explanations
    note: str = ""

    def rank_text(self) -> str:
        if self.status != "ok":
            return self.status
        if self.rank is None:
            return f"not found (of {self.reported})"
        return str(self.rank)


# --------------------------------------------------------------------------
# Planted causes and matching.
# --------------------------------------------------------------------------


def load_causes(data: Path) -> dict[str, Any]:
    return dict(json.loads((data / "causes.json").read_text()))


def _item_matches(candidate: Item, planted: list[Any]) -> bool:
    attribute, op, value = planted
    if candidate["attribute"] != attribute:
        return False
    if op == "=":
        return candidate["op"] == "=" and str(candidate["value"]) == str(value)
    if op == "is_null":
        return candidate["op"] == "is_null"
    if op == "<=":
        return (
            candidate["op"] == "range"
            and candidate.get("low") is None
            and candidate.get("high") is not None
            and abs(float(candidate["high"]) - float(value)) <= THRESHOLD_TOLERANCE
        )
    raise ValueError(f"unknown planted op {op!r}")


def _set_matches(candidate: list[Item], planted: list[list[Any]]) -> bool:
    if len(candidate) != len(planted):
        return False
    used: set[int] = set()
    for p in planted:
        hit = next(
            (i for i, c in enumerate(candidate) if i not in used and _item_matches(c, p)), None
        )
        if hit is None:
            return False
        used.add(hit)
    return True


def matches(candidate: list[Item], cause: dict[str, Any]) -> bool:
    """Whether one explanation is the planted cause (or an item set with the same events)."""
    return any(
        _set_matches(candidate, items)
        for items in [cause["items"], *(cause.get("equivalents") or [])]
    )


def rank_of(explanations: list[list[Item]], cause: dict[str, Any]) -> int | None:
    """1-based rank of the first explanation that is the planted cause."""
    return next((i + 1 for i, e in enumerate(explanations) if matches(e, cause)), None)


def label(items: list[Item]) -> str:
    parts = []
    for it in items:
        a, op = it["attribute"], it["op"]
        if op == "=":
            parts.append(f"{a} = {it['value']!r}")
        elif op == "is_null":
            parts.append(f"{a} is null")
        else:
            lo, hi = it.get("low"), it.get("high")
            lo_s = "-inf" if lo is None else f"{lo:g}"
            hi_s = "inf" if hi is None else f"{hi:g}"
            parts.append(f"{a} in [{lo_s}, {hi_s}]")
    return " AND ".join(parts)


def finite_or_none(x: float) -> float | None:
    return None if math.isinf(x) else float(x)


# --------------------------------------------------------------------------
# Child side.
# --------------------------------------------------------------------------


def emit(payload: dict[str, Any]) -> None:
    """Print the child's result line (read back by :func:`run_child`)."""
    print(RESULT_PREFIX + json.dumps(payload, allow_nan=False), flush=True)


def limit_memory(gb: float | None) -> None:
    """Cap the address space of this process (RLIMIT_AS); a bigger allocation raises."""
    if gb:
        cap = int(gb * 1024**3)
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))


# --------------------------------------------------------------------------
# Parent side.
# --------------------------------------------------------------------------


def run_child(
    cmd: list[str], *, scenario: str, tool: str, timeout: float, cwd: Path | None = None
) -> RunResult:
    """Run one measurement in a fresh process; kill it after ``timeout`` seconds.

    The peak RSS is the child's own ``ru_maxrss`` from ``os.wait4`` (interpreter and
    imports included), so every run has its own figure.
    """
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, cwd=cwd, start_new_session=True)
        deadline = time.monotonic() + timeout
        timed_out = False
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                timed_out = True
                os.killpg(proc.pid, signal.SIGKILL)
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.05)
        proc.returncode = os.waitstatus_to_exitcode(status)
        peak_mb = usage.ru_maxrss / 1024  # KiB on Linux
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if timed_out:
        return RunResult(scenario, tool, "timeout", peak_mb=peak_mb, note=f"killed at {timeout:g}s")
    line = next((x for x in stdout.splitlines() if x.startswith(RESULT_PREFIX)), None)
    if line is None:
        tail = (stderr.strip().splitlines() or ["no output"])[-1]
        status_text = "oom" if "MemoryError" in stderr or "memory" in tail.lower() else "error"
        return RunResult(
            scenario, tool, status_text, peak_mb=peak_mb, note=f"exit {proc.returncode}: {tail}"
        )
    payload = json.loads(line[len(RESULT_PREFIX) :])
    result = RunResult(scenario=scenario, tool=tool, **payload)
    result.peak_mb = peak_mb
    return result


def write_results(results: list[RunResult], path: Path | None) -> None:
    text = json.dumps([asdict(r) for r in results], indent=2)
    if path is None:
        print(text)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n")


def read_results(path: Path) -> list[RunResult]:
    return [RunResult(**r) for r in json.loads(path.read_text())]


def python_of_venv(venv: Path) -> str:
    return str(venv / "bin" / "python") if venv.exists() else sys.executable
