"""Generate the bubbleup sample data set: one row per CI build ("wide event").

The rows are builds of a fictional hosted CI provider between 2026-11-19 00:00
and 2026-11-21 00:00 UTC. Planted in them is an incident: at 2026-11-20 14:00
UTC kernel ``5.15.0-91-generic`` was rolled out to node pools ``pool-c``,
``pool-d`` and ``pool-e``. The new kernel dropped a memory heuristic that the
JVM-based Gradle daemon relied on, so Gradle builds (mostly Android images)
that land on the new kernel are OOM-killed about 35% of the time. Every other
build is OOM-killed only rarely, anywhere and on any kernel. A smaller second
incident is planted too: a registry-mirror outage in ``ap-southeast-1`` on
2026-11-19 between 05:30 and 07:45 UTC makes docker-executor builds there fail
with ``infra_error``.

Events are dynamically sampled the way an event pipeline would: successful
builds are kept 1 in 10 (``sample_rate = 10``), every other build is kept
(``sample_rate = 1``).

The output is fully deterministic for a given ``--rows``/``--seed``: running
the script twice gives byte-identical Parquet. See ``README.md`` next to this
file for the story, the columns and the expected analysis results.

Usage::

    python sample_data/generate.py [--rows N] [--seed S] [--output PATH]
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import polars as pl

HERE = Path(__file__).resolve().parent

DEFAULT_ROWS = 200_000
DEFAULT_SEED = 20261120
DEFAULT_OUTPUT = "builds.parquet"

US_PER_MINUTE = 60_000_000
START = np.datetime64("2026-11-19T00:00:00", "us")
MINUTES = 2 * 24 * 60
ROLLOUT = np.datetime64("2026-11-20T14:00:00", "us")
OUTAGE_START = np.datetime64("2026-11-19T05:30:00", "us")
OUTAGE_END = np.datetime64("2026-11-19T07:45:00", "us")

OLD_KERNEL = "5.4.0-150-generic"
NEW_KERNEL = "5.15.0-91-generic"
NEW_KERNEL_POOLS = ("pool-c", "pool-d", "pool-e")

P_OOM_GRADLE_NEW_KERNEL = 0.35  # the incident
P_OOM_BACKGROUND = 0.0003  # everything else, anywhere, any kernel
P_OUTAGE_INFRA_ERROR = 0.6  # docker builds in ap-southeast-1 during the outage
SUCCESS_KEEP_ONE_IN = 10

# Target population rates of the other (non-OOM) outcomes.
RATE_TEST_FAILURE = 0.07
RATE_TIMEOUT = 0.01
RATE_INFRA_ERROR = 0.003
RATE_CANCELED = 0.02

# Expected share of population builds that survive sampling (used only to size
# the simulated population; the exact row count is reached by truncation).
EXPECTED_KEEP_FRACTION = 0.205

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

# --------------------------------------------------------------------------
# Catalogues (ordered tuples only: no set or dict-order dependence).
# --------------------------------------------------------------------------

PLANS = ("free", "team", "scale", "enterprise")
VCS = ("github", "gitlab", "bitbucket")
REGIONS = ("us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-1")
REGION_WEIGHTS = (0.40, 0.18, 0.17, 0.13, 0.12)
POOLS = ("pool-a", "pool-b", "pool-c", "pool-d", "pool-e", "pool-f", "pool-g")
# amd64 pools and their weights; pool-f is the arm64 pool.
AMD64_POOLS = ("pool-a", "pool-b", "pool-c", "pool-d", "pool-e", "pool-g")
AMD64_POOL_WEIGHTS = (0.21, 0.20, 0.13, 0.13, 0.12, 0.21)
ARM64_POOL = "pool-f"

# image, group, population weight
IMAGES: tuple[tuple[str, str, float], ...] = (
    ("cimg/android:2026.10", "android", 2.6),
    ("cimg/android:2026.07", "android", 1.4),
    ("cimg/android:2025.12", "android", 0.7),
    ("cimg/openjdk:21.0", "openjdk", 3.8),
    ("cimg/openjdk:17.0", "openjdk", 2.6),
    ("cimg/node:22.11", "node", 16.0),
    ("cimg/node:20.18", "node", 10.0),
    ("cimg/python:3.12", "python", 13.0),
    ("cimg/python:3.11", "python", 7.0),
    ("cimg/ruby:3.3", "ruby", 8.5),
    ("cimg/go:1.23", "go", 11.5),
    ("cimg/base:2026.10", "base", 14.5),
    ("macos/xcode:16.1", "xcode", 4.5),
)

LANGUAGES = ("kotlin", "java", "javascript", "typescript", "python", "ruby", "go", "swift")
BUILD_TOOLS = ("gradle", "maven", "npm", "yarn", "pip", "poetry", "bundler", "go", "xcodebuild")

# image group -> ((language, weight), ...); None means "no language recorded"
GROUP_LANGUAGES: tuple[tuple[str, tuple[tuple[str | None, float], ...]], ...] = (
    ("android", (("kotlin", 0.7), ("java", 0.3))),
    ("openjdk", (("java", 0.75), ("kotlin", 0.25))),
    ("node", (("javascript", 0.55), ("typescript", 0.45))),
    ("python", (("python", 1.0),)),
    ("ruby", (("ruby", 1.0),)),
    ("go", (("go", 1.0),)),
    ("base", ((None, 0.5), ("go", 0.15), ("python", 0.2), ("javascript", 0.15))),
    ("xcode", (("swift", 1.0),)),
)

# (image group, language) -> ((build tool, weight), ...)
TOOLS: tuple[tuple[str, str, tuple[tuple[str, float], ...]], ...] = (
    ("android", "kotlin", (("gradle", 1.0),)),
    ("android", "java", (("gradle", 1.0),)),
    ("openjdk", "kotlin", (("gradle", 0.85), ("maven", 0.15))),
    ("openjdk", "java", (("gradle", 0.25), ("maven", 0.75))),
    ("node", "javascript", (("npm", 0.6), ("yarn", 0.4))),
    ("node", "typescript", (("npm", 0.5), ("yarn", 0.5))),
    ("python", "python", (("pip", 0.6), ("poetry", 0.4))),
    ("ruby", "ruby", (("bundler", 1.0),)),
    ("go", "go", (("go", 1.0),)),
    ("base", "go", (("go", 1.0),)),
    ("base", "python", (("pip", 1.0),)),
    ("base", "javascript", (("npm", 1.0),)),
    ("xcode", "swift", (("xcodebuild", 1.0),)),
)

RESOURCE_CLASSES = ("small", "medium", "large", "xlarge")
MEMORY_MB = (2048, 4096, 8192, 16384)
CPUS = (1, 2, 4, 8)
# image group -> resource-class weights (small, medium, large, xlarge)
GROUP_RESOURCE_WEIGHTS: tuple[tuple[str, tuple[float, float, float, float]], ...] = (
    ("android", (0.0, 0.20, 0.50, 0.30)),
    ("openjdk", (0.05, 0.35, 0.45, 0.15)),
    ("node", (0.20, 0.50, 0.22, 0.08)),
    ("python", (0.20, 0.50, 0.22, 0.08)),
    ("ruby", (0.20, 0.50, 0.22, 0.08)),
    ("go", (0.20, 0.50, 0.22, 0.08)),
    ("base", (0.25, 0.50, 0.18, 0.07)),
    ("xcode", (0.0, 0.5, 0.5, 0.0)),
)

# Median duration (minutes) of a successful build, by build tool; "" = none.
TOOL_MEDIAN_MINUTES: tuple[tuple[str, float], ...] = (
    ("gradle", 11.0),
    ("maven", 7.0),
    ("npm", 5.0),
    ("yarn", 5.0),
    ("pip", 4.0),
    ("poetry", 4.5),
    ("bundler", 6.0),
    ("go", 3.0),
    ("xcodebuild", 14.0),
    ("", 2.0),
)

# Workflow name, runs tests?, popularity weight. 50 names.
WORKFLOWS: tuple[tuple[str, bool, float], ...] = (
    ("build-and-test", True, 30.0),
    ("ci", True, 26.0),
    ("test", True, 20.0),
    ("main", True, 14.0),
    ("pr-checks", True, 12.0),
    ("unit-tests", True, 10.0),
    ("build", True, 9.0),
    ("lint", False, 12.0),
    ("deploy-staging", False, 11.0),
    ("integration-tests", True, 7.0),
    ("deploy-production", False, 8.0),
    ("e2e", True, 6.0),
    ("release", False, 7.0),
    ("nightly", True, 4.5),
    ("docker-build", False, 6.0),
    ("publish", False, 5.0),
    ("security-scan", False, 5.0),
    ("verify", True, 3.5),
    ("test-matrix", True, 3.5),
    ("build-test-deploy", True, 3.2),
    ("smoke-tests", True, 3.0),
    ("deploy", False, 4.5),
    ("terraform-plan", False, 2.6),
    ("terraform-apply", False, 2.0),
    ("docs", False, 3.0),
    ("coverage", True, 1.8),
    ("regression", True, 1.6),
    ("mobile-ci", True, 1.6),
    ("backend-ci", True, 1.5),
    ("frontend-ci", True, 1.5),
    ("api-tests", True, 1.4),
    ("contract-tests", True, 1.2),
    ("acceptance", True, 1.2),
    ("canary-deploy", False, 1.1),
    ("rollback", False, 0.5),
    ("benchmark", True, 1.0),
    ("dependency-update", True, 1.0),
    ("weekly-audit", False, 0.8),
    ("license-check", False, 0.8),
    ("schema-migrate", False, 0.8),
    ("package", False, 0.9),
    ("storybook", False, 0.7),
    ("load-test", True, 0.6),
    ("fuzz", True, 0.5),
    ("mutation-tests", True, 0.4),
    ("perf-regression", True, 0.5),
    ("sync-translations", False, 0.4),
    ("cleanup", False, 0.4),
    ("preview-env", False, 1.3),
    ("static-analysis", False, 3.5),
)
DEPLOY_WORKFLOW_PREFIXES = ("deploy", "release", "publish", "terraform-apply", "canary", "rollback")

BRANCH_PREFIXES = (
    "feature/",
    "fix/",
    "chore/",
    "refactor/",
    "hotfix/",
    "renovate/",
    "dependabot/npm_and_yarn/",
)
BRANCH_WORDS = (
    "auth",
    "billing",
    "checkout",
    "search",
    "login",
    "cache",
    "retry",
    "upload",
    "export",
    "import",
    "onboarding",
    "metrics",
    "logging",
    "settings",
    "profile",
    "payments",
    "invoice",
    "webhooks",
    "notifications",
    "sso",
    "rate-limit",
    "pagination",
    "dark-mode",
    "i18n",
    "migration",
    "api-v2",
    "cleanup",
    "flaky-test",
    "deps",
    "perf",
    "ui",
    "docs",
    "graphql",
    "lodash",
    "react",
    "typescript",
    "eslint",
    "jest",
    "kafka",
    "redis",
)
N_FEATURE_BRANCHES = 400


def normalized(weights: Sequence[float]) -> FloatArray:
    """Return ``weights`` as a float array that sums to one."""
    arr = np.asarray(weights, dtype=np.float64)
    out: FloatArray = arr / arr.sum()
    return out


def choice(rng: np.random.Generator, weights: Sequence[float], size: int) -> IntArray:
    """Draw ``size`` indices into ``weights`` with the given probabilities."""
    return rng.choice(len(weights), size=size, p=normalized(weights)).astype(np.int64)


def lookup(values: Sequence[str | None], idx: IntArray) -> npt.NDArray[np.object_]:
    """Map integer codes to an object array of strings (``None`` stays None)."""
    table = np.empty(len(values), dtype=object)
    table[:] = list(values)
    return table[idx]


def feature_branch_names(rng: np.random.Generator) -> list[str]:
    """Build a deterministic list of distinct non-default branch names."""
    names: list[str] = ["develop", "staging"]
    seen: set[str] = set(names)  # only used for membership tests
    while len(names) < N_FEATURE_BRANCHES:
        prefix = BRANCH_PREFIXES[int(rng.integers(len(BRANCH_PREFIXES)))]
        a = BRANCH_WORDS[int(rng.integers(len(BRANCH_WORDS)))]
        b = BRANCH_WORDS[int(rng.integers(len(BRANCH_WORDS)))]
        if prefix.startswith(("renovate", "dependabot")):
            name = f"{prefix}{a}-{int(rng.integers(1, 30))}.{int(rng.integers(0, 20))}"
        elif a == b:
            name = f"{prefix}{a}"
        else:
            name = f"{prefix}{a}-{b}"
        if name not in seen:
            seen.add(name)
            names.append(name)
    return names


def minute_weights() -> FloatArray:
    """Relative build volume for each minute of the two days (diurnal pattern)."""
    minutes = np.arange(MINUTES, dtype=np.float64)
    hour = (minutes / 60.0) % 24.0
    americas = np.exp(-0.5 * ((hour - 16.0) / 3.5) ** 2)
    europe = np.exp(-0.5 * ((hour - 10.0) / 2.5) ** 2)
    apac = np.exp(-0.5 * ((hour - 3.5) / 2.5) ** 2)
    weights = 0.25 + 0.75 * americas + 0.45 * europe + 0.25 * apac
    friday = minutes >= 24 * 60
    weights[friday] *= 0.92
    out: FloatArray = weights / weights.sum()
    return out


def simulate_population(n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Simulate ``n`` i.i.d. builds (before sampling); returns column arrays."""
    cols: dict[str, np.ndarray] = {}

    # -- time ---------------------------------------------------------------
    minute = rng.choice(MINUTES, size=n, p=minute_weights()).astype(np.int64)
    offset_us = minute * US_PER_MINUTE + rng.integers(0, US_PER_MINUTE, size=n)
    ts = START + offset_us.astype("timedelta64[us]")
    cols["ts"] = ts

    # -- customers: Zipf-like popularity over a fixed universe --------------
    n_customers = 26_000
    ranks = np.arange(n_customers, dtype=np.float64)
    popularity = 1.0 / (ranks + 8.0) ** 1.05
    cust_rank = rng.choice(n_customers, size=n, p=popularity / popularity.sum())
    raw_ids = rng.choice(16**8, size=n_customers, replace=False)
    customer_ids = np.array([f"cus_{int(x):08x}" for x in raw_ids], dtype=object)
    cols["customer_id"] = customer_ids[cust_rank]

    # per-customer attributes (plan by size, vcs, home region, default branch)
    plan_of = np.empty(n_customers, dtype=np.int64)
    big = ranks < 200
    mid = (ranks >= 200) & (ranks < 2_000)
    small = ranks >= 2_000
    plan_of[big] = choice(rng, (0.0, 0.0, 0.4, 0.6), int(big.sum()))
    plan_of[mid] = choice(rng, (0.0, 0.5, 0.4, 0.1), int(mid.sum()))
    plan_of[small] = choice(rng, (0.55, 0.35, 0.08, 0.02), int(small.sum()))
    vcs_of = choice(rng, (0.75, 0.15, 0.10), n_customers)
    region_of = choice(rng, REGION_WEIGHTS, n_customers)
    uses_master = rng.random(n_customers) < 0.2

    plan = plan_of[cust_rank]
    cols["org_plan"] = lookup(PLANS, plan)
    cols["vcs"] = lookup(VCS, vcs_of[cust_rank])
    region = region_of[cust_rank].copy()
    roaming = rng.random(n) < 0.08
    region[roaming] = choice(rng, REGION_WEIGHTS, int(roaming.sum()))
    cols["region"] = lookup(REGIONS, region)

    # -- image / language / build tool ----------------------------------------
    image = choice(rng, [w for _, _, w in IMAGES], n)
    cols["image"] = lookup([name for name, _, _ in IMAGES], image)
    group = lookup([g for _, g, _ in IMAGES], image)
    language = np.full(n, None, dtype=object)
    for g, options in GROUP_LANGUAGES:
        sel = np.flatnonzero(group == g)
        picked = choice(rng, [w for _, w in options], sel.size)
        language[sel] = lookup([lang for lang, _ in options], picked)
    build_tool = np.full(n, None, dtype=object)
    for g, lang, options in TOOLS:
        sel = np.flatnonzero((group == g) & (language == lang))
        picked = choice(rng, [w for _, w in options], sel.size)
        build_tool[sel] = lookup([t for t, _ in options], picked)
    cols["language"] = language
    cols["build_tool"] = build_tool

    # -- executor / arch / node pool / kernel ---------------------------------
    is_mac = group == "xcode"
    is_android = group == "android"
    executor = np.where(
        rng.random(n) < np.where(is_android, 0.70, 0.78), "docker", "machine"
    ).astype(object)
    executor[is_mac] = "macos"
    cols["executor"] = executor
    arm = (rng.random(n) < 0.15) & ~is_android
    arm |= is_mac
    cols["arch"] = np.where(arm, "arm64", "amd64").astype(object)
    node_pool = lookup(AMD64_POOLS, choice(rng, AMD64_POOL_WEIGHTS, n))
    node_pool[arm] = ARM64_POOL
    node_pool[is_mac] = None
    cols["node_pool"] = node_pool
    new_kernel = np.isin(node_pool, np.array(NEW_KERNEL_POOLS, dtype=object)) & (ts >= ROLLOUT)
    kernel = np.where(new_kernel, NEW_KERNEL, OLD_KERNEL).astype(object)
    kernel[is_mac] = None
    cols["kernel_version"] = kernel

    # -- resources ------------------------------------------------------------
    resource = np.zeros(n, dtype=np.int64)
    for g, weights in GROUP_RESOURCE_WEIGHTS:
        sel = np.flatnonzero(group == g)
        resource[sel] = choice(rng, weights, sel.size)
    resource[(plan == 0) & (resource == 3)] = 2  # free plan: no xlarge
    cols["resource_class"] = lookup(RESOURCE_CLASSES, resource)
    cols["memory_limit_mb"] = np.asarray(MEMORY_MB, dtype=np.int64)[resource]
    cols["cpu_count"] = np.asarray(CPUS, dtype=np.int64)[resource]
    parallelism = choice(rng, (0.55, 0.15, 0.05, 0.12, 0.02, 0.04, 0.02, 0.05), n) + 1
    cols["parallelism"] = parallelism

    # -- workflow / branch / tests -------------------------------------------
    workflow = choice(rng, [w for _, _, w in WORKFLOWS], n)
    cols["workflow_name"] = lookup([name for name, _, _ in WORKFLOWS], workflow)
    runs_tests = np.asarray([t for _, t, _ in WORKFLOWS], dtype=bool)[workflow]
    deploy_like = np.asarray(
        [name.startswith(DEPLOY_WORKFLOW_PREFIXES) for name, _, _ in WORKFLOWS], dtype=bool
    )[workflow]
    is_default = rng.random(n) < np.where(deploy_like, 0.9, 0.28)
    cols["is_default_branch"] = is_default
    feature_names = feature_branch_names(rng)
    feature_rank = np.arange(len(feature_names), dtype=np.float64)
    feature_pop = 1.0 / (feature_rank + 3.0) ** 0.9
    feature = rng.choice(len(feature_names), size=n, p=feature_pop / feature_pop.sum())
    branch = np.asarray(feature_names, dtype=object)[feature]
    default_name = np.where(uses_master[cust_rank], "master", "main").astype(object)
    branch[is_default] = default_name[is_default]
    cols["branch"] = branch

    test_count = np.maximum(1, np.round(rng.lognormal(math.log(400.0), 1.2, n))).astype(np.int64)
    test_count_valid = runs_tests
    cols["test_count"] = test_count
    cols["test_count_valid"] = test_count_valid

    cache_hit = rng.random(n) < 0.76
    cols["cache_hit"] = cache_hit
    cols["cache_hit_valid"] = rng.random(n) >= 0.03
    dlc = rng.random(n) < np.where(plan >= 2, 0.5, 0.15)
    dlc[is_mac] = False
    cols["docker_layer_caching"] = dlc
    retry = choice(rng, (0.91, 0.065, 0.018, 0.007), n)
    cols["retry_count"] = retry
    cols["config_version"] = np.where(rng.random(n) < 0.7, 2.1, 2.0)
    cols["queue_ms"] = np.round(rng.lognormal(math.log(1_500.0), 1.3, n)).astype(np.int64)

    # -- outcome --------------------------------------------------------------
    gradle = build_tool == "gradle"
    p_oom = np.where(gradle & new_kernel, P_OOM_GRADLE_NEW_KERNEL, P_OOM_BACKGROUND)
    oom = rng.random(n) < p_oom

    lang_factor = np.ones(n)
    lang_factor[np.isin(language, np.array(["javascript", "typescript"], dtype=object))] = 1.15
    lang_factor[language == "ruby"] = 1.2
    lang_factor[language == "go"] = 0.75
    lang_factor[language == "swift"] = 1.3
    m_test = (
        np.where(runs_tests, 1.0, 0.0)
        * np.where(is_default, 0.6, 1.3)
        * np.where(retry > 0, 1.6, 1.0)
        * lang_factor
        * (test_count / 400.0) ** 0.12
    )
    m_timeout = (
        np.select([parallelism == 1, parallelism >= 4], [1.5, 0.6], 1.0)
        * np.select([resource == 0, resource == 3], [1.6, 0.7], 1.0)
        * np.where(is_mac, 2.0, 1.0)
        * np.where(runs_tests & (test_count > 1_500), 1.5, 1.0)
        * np.where(runs_tests, 1.0, 0.6)
    )
    m_cancel = np.where(is_default, 0.35, 1.35)
    p_test = RATE_TEST_FAILURE * m_test / m_test.mean()
    p_timeout = RATE_TIMEOUT * m_timeout / m_timeout.mean()
    p_cancel = RATE_CANCELED * m_cancel / m_cancel.mean()
    outage = (
        (region == REGIONS.index("ap-southeast-1"))
        & (executor == "docker")
        & (ts >= OUTAGE_START)
        & (ts < OUTAGE_END)
    )
    p_infra = np.where(outage, P_OUTAGE_INFRA_ERROR, RATE_INFRA_ERROR)

    u = rng.random(n)
    c1 = p_infra
    c2 = c1 + p_timeout
    c3 = c2 + p_cancel
    c4 = c3 + p_test
    exit_reason = np.select(
        [oom, u < c1, u < c2, u < c3, u < c4],
        ["oom", "infra_error", "timeout", "canceled", "test_failure"],
        "success",
    ).astype(object)
    cols["exit_reason"] = exit_reason

    # -- duration -------------------------------------------------------------
    tool_key = np.where(build_tool == None, "", build_tool).astype(object)  # noqa: E711
    median_min = np.ones(n)
    for tool, minutes in TOOL_MEDIAN_MINUTES:
        median_min[tool_key == tool] = minutes
    median_min *= np.asarray((1.3, 1.0, 0.8, 0.7))[resource]
    median_min *= np.where(runs_tests, 1.0, 0.5)
    median_min /= np.sqrt(parallelism)
    duration = median_min * 60_000.0 * rng.lognormal(0.0, 0.6, n)
    frac = rng.random(n)
    duration = np.where(exit_reason == "oom", duration * (0.1 + 0.5 * frac), duration)
    duration = np.where(exit_reason == "test_failure", duration * (0.5 + 0.5 * frac), duration)
    duration = np.where(exit_reason == "canceled", duration * (0.02 + 0.78 * frac), duration)
    duration = np.where(exit_reason == "infra_error", 2_000.0 + 88_000.0 * frac, duration)
    limit_ms = np.asarray((3_600_000.0, 1_800_000.0, 18_000_000.0))[
        choice(rng, (0.6, 0.25, 0.15), n)
    ]
    duration = np.where(exit_reason == "timeout", limit_ms + 15_000.0 * frac, duration)
    cols["duration_ms"] = np.maximum(1_000, np.round(duration)).astype(np.int64)
    return cols


def generate(rows: int, seed: int) -> pl.DataFrame:
    """Simulate a build population, apply dynamic sampling, return ``rows`` rows."""
    rng = np.random.default_rng(seed)
    population = math.ceil(rows / EXPECTED_KEEP_FRACTION * 1.1) + 1_000
    cols = simulate_population(population, rng)
    success = cols["exit_reason"] == "success"
    kept = ~success | (rng.random(population) < 1.0 / SUCCESS_KEEP_ONE_IN)
    if int(kept.sum()) < rows:
        raise RuntimeError("population too small for the requested row count")
    # Builds are i.i.d., so the first k simulated builds are themselves a valid
    # population; pick k so that exactly ``rows`` builds survive sampling.
    k = int(np.searchsorted(np.cumsum(kept), rows)) + 1
    sel = np.flatnonzero(kept[:k])
    # Build ids number the whole population in time order, so gaps in the ids
    # show the builds that sampling dropped.
    order = np.argsort(cols["ts"][:k], kind="stable")
    seq = np.empty(k, dtype=np.int64)
    seq[order] = np.arange(k, dtype=np.int64)

    def col(name: str) -> np.ndarray:
        return cols[name][sel]

    def text(name: str) -> pl.Series:
        return pl.Series(name, col(name).tolist(), dtype=pl.String)

    def nullable(name: str) -> pl.Series:
        return pl.Series(name, col(name)).set(~pl.Series(col(f"{name}_valid")), None)

    df = pl.DataFrame(
        [
            pl.Series("build_seq", 74_000_000 + seq[sel]),
            pl.Series("ts", col("ts")).dt.replace_time_zone("UTC"),
            text("customer_id"),
            text("org_plan"),
            text("vcs"),
            text("region"),
            text("node_pool"),
            text("kernel_version"),
            text("arch"),
            text("executor"),
            text("image"),
            text("language"),
            text("build_tool"),
            text("resource_class"),
            pl.Series("memory_limit_mb", col("memory_limit_mb"), dtype=pl.Int64),
            pl.Series("cpu_count", col("cpu_count"), dtype=pl.Int64),
            pl.Series("parallelism", col("parallelism"), dtype=pl.Int64),
            pl.Series("duration_ms", col("duration_ms"), dtype=pl.Int64),
            pl.Series("queue_ms", col("queue_ms"), dtype=pl.Int64),
            nullable("test_count").cast(pl.Int64),
            nullable("cache_hit").cast(pl.Boolean),
            pl.Series("docker_layer_caching", col("docker_layer_caching"), dtype=pl.Boolean),
            pl.Series("is_default_branch", col("is_default_branch"), dtype=pl.Boolean),
            pl.Series("retry_count", col("retry_count"), dtype=pl.Int64),
            pl.Series("config_version", col("config_version"), dtype=pl.Float64),
            text("branch"),
            text("workflow_name"),
            text("exit_reason"),
            pl.Series(
                "sample_rate", np.where(col("exit_reason") == "success", SUCCESS_KEEP_ONE_IN, 1)
            ).cast(pl.Int64),
        ]
    )
    # What happened to each build, as real build events carry it (outcomes: they follow
    # from exit_reason, so bubbleup describes them and never takes them as causes). Drawn
    # from a second generator so that every other column stays as it was.
    more = np.random.default_rng([seed, 1])
    reason = col("exit_reason")
    codes = {"success": 0, "test_failure": 1, "timeout": 124, "canceled": 130,
             "infra_error": 255, "oom": 137}  # fmt: skip
    exit_code = np.array([codes[r] for r in reason], dtype=np.int64)
    usage = np.clip(more.normal(52.0, 14.0, len(reason)), 4.0, 96.0)
    peak = np.where(reason == "oom", more.uniform(98.0, 100.0, len(reason)), usage)
    df = df.with_columns(
        pl.Series("exit_code", exit_code, dtype=pl.Int64),
        pl.Series("peak_memory_pct", np.round(peak, 1), dtype=pl.Float64),
    )
    df = df.sort("build_seq").with_columns(
        build_id=pl.format("bld_{}", pl.col("build_seq").cast(pl.String)),
    )
    return df.select("build_id", pl.exclude("build_id", "build_seq"))


def summarize(df: pl.DataFrame) -> str:
    """Return a short text summary of the planted OOM signal."""
    marked = df.with_columns(
        is_oom=pl.col("exit_reason") == "oom",
        gradle=(pl.col("build_tool") == "gradle").fill_null(value=False),
        k515=(pl.col("kernel_version") == NEW_KERNEL).fill_null(value=False),
    ).with_columns(both=pl.col("gradle") & pl.col("k515"))
    w = pl.col("sample_rate")
    shares = (
        marked.group_by("is_oom")
        .agg(
            rows=pl.len(),
            events=w.sum(),
            gradle=(w * pl.col("gradle")).sum() / w.sum(),
            k515=(w * pl.col("k515")).sum() / w.sum(),
            both=(w * pl.col("both")).sum() / w.sum(),
        )
        .sort("is_oom")
    )
    other, oom = shares.row(0, named=True), shares.row(1, named=True)
    lines = [
        f"rows:                    {df.height:,}",
        f"weighted events:         {int(df['sample_rate'].sum()):,}",
        f"oom rows:                {oom['rows']:,}",
        "share (oom rows | other rows weighted by sample_rate):",
        f"  build_tool = gradle            {oom['gradle']:6.1%} | {other['gradle']:6.1%}",
        f"  kernel = {NEW_KERNEL}  {oom['k515']:6.1%} | {other['k515']:6.1%}",
        f"  gradle AND kernel 5.15         {oom['both']:6.1%} | {other['both']:6.1%}",
        "weighted OOM rate by cell (oom builds / all builds):",
    ]
    cells = (
        marked.group_by("gradle", "k515")
        .agg(oom=(w * pl.col("is_oom")).sum(), events=w.sum())
        .sort("gradle", "k515", descending=True)
    )
    for cell in cells.iter_rows(named=True):
        tool = "gradle    " if cell["gradle"] else "not gradle"
        kern = "kernel 5.15    " if cell["k515"] else "not kernel 5.15"
        rate = cell["oom"] / cell["events"]
        lines.append(f"  {tool} & {kern}  {rate:7.3%}  ({cell['oom']:,} / {cell['events']:,})")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rows", type=int, default=DEFAULT_ROWS, help="rows to write (default %(default)s)"
    )
    parser.add_argument(
        "--seed", type=int, default=DEFAULT_SEED, help="random seed (default %(default)s)"
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=HERE / DEFAULT_OUTPUT,
        help="output Parquet path (default: builds.parquet next to this script)",
    )
    args = parser.parse_args(argv)
    if args.rows <= 0:
        parser.error("--rows must be positive")
    df = generate(args.rows, args.seed)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    df.write_parquet(args.output, compression="zstd", compression_level=9, statistics=True)
    print(f"wrote {args.output} ({args.output.stat().st_size:,} bytes)")
    print(summarize(df))


if __name__ == "__main__":
    main()
