"""Generator of events with one planted cause, for the explanation tests.

Each scenario returns a frame with an ``outcome`` column (``'error'`` or ``'ok'``) whose
errors are caused by the planted condition (plus a low background rate), and the items of
the planted cause as ``(attribute, op, value)`` tuples.
"""

from __future__ import annotations

import numpy as np
import polars as pl

Cause = set[tuple[str, str, object]]


def base_events(n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Noise attributes shared by every scenario."""
    pools = rng.choice([f"pool-{c}" for c in "abcdef"], size=n)
    return {
        "region": rng.choice(["us", "eu", "ap", "sa", "af"], size=n, p=[0.3, 0.3, 0.2, 0.1, 0.1]),
        "tier": rng.choice(["free", "pro", "ent"], size=n),
        "version": rng.choice(["v1", "v2", "v3", "v4"], size=n),
        "os": rng.choice(["linux", "mac", "windows"], size=n, p=[0.6, 0.2, 0.2]),
        "node_pool": pools,
        "cache": rng.random(n) < 0.5,
        "disk_free_gb": np.round(rng.uniform(0, 100, size=n), 2),
        "customer": np.char.add("c", rng.integers(0, 50_000, size=n).astype(str)),
    }


def _frame(cols: dict[str, np.ndarray], outcome: np.ndarray, **extra: object) -> pl.DataFrame:
    return pl.DataFrame({**cols, **extra, "outcome": np.where(outcome, "error", "ok")})


def scenario(name: str, *, n: int = 20_000, seed: int = 0) -> tuple[pl.DataFrame, Cause]:
    """Build the events of one scenario."""
    rng = np.random.default_rng(seed)
    c = base_events(n, rng)
    noise = rng.random(n) < 0.01
    u = rng.random(n)
    if name == "single":
        return _frame(c, noise | ((c["region"] == "eu") & (u < 0.2))), {("region", "=", "eu")}
    if name == "pair":
        cause = (c["version"] == "v3") & (c["os"] == "mac")
        return _frame(c, noise | (cause & (u < 0.5))), {
            ("version", "=", "v3"),
            ("os", "=", "mac"),
        }
    if name == "triple":
        cause = (c["version"] == "v2") & (c["os"] == "windows") & (c["tier"] == "free")
        return _frame(c, noise | (cause & (u < 0.7))), {
            ("version", "=", "v2"),
            ("os", "=", "windows"),
            ("tier", "=", "free"),
        }
    if name == "customer":
        bad = c["customer"].copy()
        idx = rng.choice(n, size=400, replace=False)  # one customer with 400 builds
        bad[idx] = "c-noisy-neighbour"
        c["customer"] = bad
        cause = bad == "c-noisy-neighbour"
        return _frame(c, noise | (cause & (u < 0.8))), {("customer", "=", "c-noisy-neighbour")}
    if name == "threshold":
        cause = c["disk_free_gb"] <= 5.0
        return _frame(c, noise | (cause & (u < 0.5))), {("disk_free_gb", "<=", 5.0)}
    if name == "missing":
        tests = rng.integers(1, 500, size=n).astype(float)
        missing = rng.random(n) < 0.2
        tests[missing] = np.nan
        frame = _frame(c, noise | (missing & (u < 0.3)))
        frame = frame.with_columns(test_count=pl.Series(tests).fill_nan(None).cast(pl.Int64))
        return frame, {("test_count", "is_null", None)}
    if name == "alias":
        kernel = np.where(c["node_pool"] == "pool-c", "6.1", "5.4")
        cause = kernel == "6.1"
        return _frame(c, noise | (cause & (u < 0.3)), kernel=kernel), {("kernel", "=", "6.1")}
    if name == "sampling":
        # errors are kept whole; successes are sampled 1 in 20 on tier 'free' only, so
        # unweighted, 'free' looks rare among successes and over-represented among errors.
        error = noise | ((c["version"] == "v4") & (u < 0.2))
        keep = error | (c["tier"] != "free") | (rng.random(n) < 0.05)
        rate = np.where(~error & (c["tier"] == "free"), 20, 1)
        cols = {k: v[keep] for k, v in c.items()}
        return _frame(cols, error[keep], sample_rate=rate[keep]), {("version", "=", "v4")}
    raise ValueError(name)


def items_of(explanation: dict) -> Cause:
    """The (attribute, op, value) set of one JSON explanation (value or the range edge)."""
    return {(i["attribute"], i["op"], i.get("value")) for i in explanation["items"]}
