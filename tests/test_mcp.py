"""`bubbleup mcp`: the server as a subprocess, spoken to with the MCP SDK's own client.

Each test starts ``python -m bubbleup mcp --root ...`` (stdio, or streamable HTTP on
127.0.0.1) and calls its tools with ``mcp.Client``; answers are compared with what the
library and the CLI give for the same question.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import mcp  # the `test` extra installs bubbleup[mcp]; no skipping without it
import polars as pl
import pytest

import bubbleup
from bubbleup.errors import SourceError, UsageError
from bubbleup.interfaces import mcpserver
from bubbleup.pipeline.result import Result

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_DIR = ROOT / "sample_data"
OOM = "exit_reason = 'oom'"
TOOLS = {"list_sources", "describe_columns", "analyze", "example_rows", "drill", "value_counts"}


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
    env["PYTHONPATH"] = str(ROOT)
    return env


def _params(*roots: Path, extra: tuple[str, ...] = ()) -> Any:
    args = ["-m", "bubbleup", "mcp"]
    for r in roots:
        args += ["--root", str(r)]
    return mcp.StdioServerParameters(
        command=sys.executable, args=[*args, *extra], env=_env(), cwd=str(ROOT)
    )


def run(scenario: Callable[[Any], Awaitable[None]], *roots: Path, extra: tuple[str, ...] = ()):
    """Start the server over stdio, run ``scenario(client)``, stop the server."""

    async def main() -> None:
        async with mcp.Client(_params(*roots, extra=extra), read_timeout_seconds=300) as client:
            await scenario(client)

    asyncio.run(main())


async def ok(client: Any, tool: str, **args: Any) -> dict[str, Any]:
    """Call ``tool``; it must succeed; return its structured answer (and check the text twin)."""
    res = await client.call_tool(tool, args)
    assert not res.is_error, res.content[0].text
    assert json.loads(res.content[0].text) == res.structured_content
    return res.structured_content


async def error(client: Any, tool: str, **args: Any) -> str:
    """Call ``tool``; it must come back as a tool error; return the error's one line."""
    res = await client.call_tool(tool, args)
    assert res.is_error, res.structured_content
    text = res.content[0].text
    assert "\n" not in text
    assert "Traceback" not in text
    return text


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bubbleup", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=_env(),
        check=False,
    )


# -- the tools and their schemas --------------------------------------------------------
def test_tools_are_listed_with_schemas_written_for_a_model():
    async def scenario(client: Any) -> None:
        listed = (await client.list_tools()).tools
        tools = {t.name: t for t in listed}
        assert set(tools) == TOOLS
        for tool in listed:
            assert len(tool.description) > 80, tool.name
            assert tool.annotations.read_only_hint is True
            assert tool.output_schema["type"] == "object"
            for name, prop in tool.input_schema.get("properties", {}).items():
                assert prop.get("description"), f"{tool.name}.{name} has no description"
        analyze = tools["analyze"].input_schema
        assert analyze["required"] == ["source"]
        props = analyze["properties"]
        assert props["top"]["maximum"] == mcpserver.MAX_TOP
        assert props["top"]["default"] == mcpserver.DEFAULT_TOP
        assert props["max_order"]["enum"] == [1, 2, 3]
        for name in ("where", "baseline", "filter", "outcomes", "since", "after", "columns"):
            assert name in props
        assert tools["drill"].input_schema["required"] == ["result_id", "explanation"]
        assert tools["value_counts"].input_schema["required"] == ["result_id", "attribute"]

    run(scenario, SAMPLE_DIR)


def test_answers_match_the_library_and_the_cli():
    expected = bubbleup.analyze(str(SAMPLE_DIR / "builds.parquet"), where=OOM)
    rows_cli = json.loads(
        cli(
            "rows", "sample_data/builds.parquet", "-w", OOM, "-e", "1", "-n", "3", "-f", "json"
        ).stdout
    )
    columns_cli = json.loads(cli("columns", "sample_data/builds.parquet", "-f", "json").stdout)

    async def scenario(client: Any) -> None:
        listed = await ok(client, "list_sources")
        assert listed["roots"] == [str(SAMPLE_DIR)]
        files = [s for s in listed["sources"] if s["kind"] == "file"]
        assert [Path(s["path"]).name for s in files] == ["builds.parquet"]
        assert files[0]["events"] == expected.totals.scope_events

        answer = await ok(client, "analyze", source=files[0]["path"], where=OOM, top=5)
        first = answer["explanations"][0]
        assert first["rank"] == 1
        assert {(i["attribute"], i["value"]) for i in first["items"]} == {
            ("kernel_version", "5.15.0-91-generic"),
            ("build_tool", "gradle"),
        }
        assert first["significant"] is True
        assert answer["explanations"] == expected.to_dict(top=5)["explanations"]
        assert answer["selection"] == expected.to_dict()["selection"]
        assert answer["summary"].startswith("2,421 selected events")
        assert first["label"] in answer["summary"]
        assert len(answer["attributes"]) == min(
            mcpserver.MAX_ATTRIBUTES, expected.attributes.height
        )
        rid = answer["result_id"]

        # example_rows: the same events the CLI's `rows -e 1 -n 3 -f json` prints
        rows = await ok(client, "example_rows", result_id=rid, explanation=1, limit=3)
        for side in ("selection", "baseline"):
            want = [
                {k: v for k, v in r.items() if k in rows["columns"]}
                for r in rows_cli
                if r["side"] == side
            ]
            assert rows[side] == want
        # which event and when, then the explanation's attributes
        assert rows["columns"][:4] == ["build_id", "ts", "kernel_version", "build_tool"]
        picked = await ok(
            client, "example_rows", result_id=rid, columns=["build_tool", "exit_reason"], limit=2
        )
        assert picked["columns"] == ["build_tool", "exit_reason"]
        assert [r["exit_reason"] for r in picked["selection"]] == ["oom", "oom"]
        assert all(r["exit_reason"] != "oom" for r in picked["baseline"])

        # value_counts: Result.histogram
        counts = await ok(client, "value_counts", result_id=rid, attribute="build_tool", top=3)
        assert counts["values"] == expected.histogram("build_tool", top=3).to_dicts()

        # drill: Result.drill, and a new id that value_counts takes
        inside = await ok(client, "drill", result_id=rid, explanation=2, top=3)
        drilled = expected.drill(2)
        assert inside["result_id"] != rid
        assert inside["scope"]["filter"] == "kernel_version = '5.15.0-91-generic'"
        assert inside["explanations"] == drilled.to_dict(top=3)["explanations"]
        assert inside["explanations"][0]["label"] == "build_tool = 'gradle'"
        again = await ok(
            client, "value_counts", result_id=inside["result_id"], attribute="build_tool"
        )
        assert again["values"] == drilled.histogram("build_tool").to_dicts()

        # describe_columns: what `bubbleup columns -f json` prints, relative path accepted
        described = await ok(client, "describe_columns", source="builds.parquet")

        # every field, top values included: ties are broken by value, in both processes
        assert described["columns"] == columns_cli
        assert sum(c["example"] is not None for c in described["columns"]) > 5
        assert described["columns_total"] == len(columns_cli)
        page = await ok(
            client, "describe_columns", source="builds.parquet", offset=2, max_columns=3
        )
        assert page["columns"] == columns_cli[2:5]
        assert page["next_offset"] == 5

        # the time window options reach analyze as the CLI's --since/--until/--after do
        window = {"where": "exit_reason = 'infra_error'", "since": "2026-11-19T00:00"}
        timed = await ok(client, "analyze", source="builds.parquet", top=3, **window)
        assert timed["timeline"]["since"].startswith("2026-11-19T00:00")
        want = bubbleup.analyze(str(SAMPLE_DIR / "builds.parquet"), **window)
        assert timed["explanations"] == want.to_dict(top=3)["explanations"]
        assert timed["selection"]["events"] == want.totals.selection_events

    run(scenario, SAMPLE_DIR)


def test_outcomes_and_context_are_forwarded():
    tools = mcpserver.Tools(mcpserver.Roots([str(SAMPLE_DIR)]))
    answer = tools.analyze("builds.parquet", where=OOM, outcomes=["queue_ms"])
    assert {o["attribute"] for o in answer["outcomes"]} >= {"queue_ms", "exit_code"}
    answer = tools.analyze("builds.parquet", where=OOM, context=["peak_memory_pct"])
    assert "peak_memory_pct" not in {o["attribute"] for o in answer["outcomes"]}
    assert answer["restatements"][0]["label"] == "exit_code = 137"


def test_new_keys_of_the_json_document_pass_through_bounded(monkeypatch: pytest.MonkeyPatch):
    result = bubbleup.analyze(str(SAMPLE_DIR / "builds.parquet"), where=OOM, max_order=1)
    plain = Result.to_dict
    restatement = {"label": "x" * 500, "items": [], "selection_share": 0.99}

    def to_dict(self: Result, *, top: int | None = None) -> dict[str, Any]:
        doc = plain(self, top=top)
        extra = {"restatements": [restatement] * 80, "outcomes": [{"column": "c"}] * 3}
        return {**doc, **extra}

    monkeypatch.setattr(Result, "to_dict", to_dict)
    out = mcpserver.result_doc(result, "r7", top=2)
    assert len(out["restatements"]) == mcpserver.MAX_LIST
    assert out["restatements"][0]["label"].endswith("[300 more characters]")
    assert out["outcomes"] == [{"column": "c"}] * 3
    assert out["truncated"]["restatements"] == f"kept {mcpserver.MAX_LIST} of 80"
    assert len(out["explanations"]) == 2


# -- refusals: each a clear tool error, and the server keeps answering -------------------
def test_bad_requests_are_tool_errors_and_the_server_keeps_answering(tmp_path: Path):
    root = tmp_path / "root"
    root.mkdir()
    shutil.copy(SAMPLE_DIR / "builds.parquet", root / "builds.parquet")
    outside = tmp_path / "secret"
    outside.mkdir()
    pl.DataFrame({"password": ["hunter2"] * 50, "bad": [True, False] * 25}).write_csv(
        outside / "secret.csv"
    )
    (root / "leak.csv").symlink_to(outside / "secret.csv")
    (root / "sub").mkdir()
    (root / "sub" / "link").symlink_to(outside, target_is_directory=True)
    pl.DataFrame({"x": [1, 2], "bad": [True, False]}).write_csv(root / "ok.csv")
    root_text = str(root.resolve())

    # what the CLI prints for the same mistakes
    cli_bad = cli("analyze", "sample_data/builds.parquet", "-w", "exit_reason = = 'oom'", "-q")
    cli_unknown = cli("analyze", "sample_data/builds.parquet", "-w", "exit_reasn = 'oom'", "-q")
    assert cli_bad.returncode == cli_unknown.returncode == 1

    async def scenario(client: Any) -> None:
        refused = [
            await error(client, "analyze", source=str(outside / "secret.csv"), where="bad"),
            await error(client, "analyze", source="../secret/secret.csv", where="bad"),
            await error(client, "describe_columns", source="leak.csv"),
            await error(client, "describe_columns", source="sub/link/secret.csv"),
            await error(client, "describe_columns", source="sub/link"),
            await error(client, "analyze", source="sub/*/*.csv", where="bad"),
            await error(client, "describe_columns", source="/etc/passwd"),
            await error(client, "describe_columns", source="/nonexistent/x.parquet"),
        ]
        for text in refused:
            assert "is outside the served roots" in text, text
            assert root_text in text
            assert "hunter2" not in text
        # the whole folder: the link out of it is refused, not silently read
        whole = await error(client, "analyze", source=".", where="bad")
        assert "outside the served roots" in whole
        assert "secret" not in json.dumps((await ok(client, "list_sources"))["sources"])

        bad = await error(client, "analyze", source="builds.parquet", where="exit_reason = = 'oom'")
        # the same message; the tool names its parameter (where), the CLI its flag (--where)
        assert bad.startswith("malformed where predicate ")
        assert cli_bad.stderr.strip() == "Error: " + bad.replace(" where ", " --where ", 1)
        unknown = await error(
            client, "analyze", source="builds.parquet", where="exit_reasn = 'oom'"
        )
        assert unknown.startswith("column 'exit_reasn' in where not found")
        assert cli_unknown.stderr.strip() == "Error: " + unknown.replace(" where ", " --where ", 1)
        assert "did you mean 'exit_reason'" in unknown

        wrong = await error(client, "analyze", source="builds.parquet", top="many")
        assert wrong.startswith("bad arguments for analyze: top: Input should be a valid integer")
        assert await error(client, "drill", result_id="r1") == (
            "bad arguments for drill: explanation: Field required"
        )
        huge = await error(client, "analyze", source="builds.parquet", where=OOM, top=10**9)
        assert huge == f"top must be between 1 and {mcpserver.MAX_TOP}, not {10**9}"
        missing = await error(client, "describe_columns", source="nope.parquet")
        assert missing.startswith("file not found: nope.parquet")
        assert "no result 'r99'" in await error(
            client, "value_counts", result_id="r99", attribute="x"
        )

        answer = await ok(client, "analyze", source="builds.parquet", where=OOM, top=2)
        rid = answer["result_id"]
        assert "there is no explanation 1000000" in await error(
            client, "drill", result_id=rid, explanation=10**6
        )
        assert "attribute 'nope' was not analysed" in await error(
            client, "value_counts", result_id=rid, attribute="nope"
        )
        assert "column 'nope' not found" in await error(
            client, "example_rows", result_id=rid, columns=["nope"]
        )
        assert await error(client, "example_rows", result_id=rid, limit=1000) == (
            f"limit must be between 1 and {mcpserver.MAX_ROWS}, not 1000"
        )
        # still answering, and a file inside the root is read
        inside = await ok(client, "analyze", source="ok.csv", where="bad", max_order=1)
        assert inside["selection"]["events"] == 1

    run(scenario, root)


def test_a_call_that_runs_out_of_time_is_abandoned_and_the_server_keeps_answering():
    async def scenario(client: Any) -> None:
        text = await error(client, "analyze", source="builds.parquet", where=OOM)
        assert text.startswith("the call took longer than 0.5 s and was abandoned")
        # answering again while the abandoned analysis finishes in the background
        listed = await ok(client, "list_sources")
        assert listed["roots"] == [str(SAMPLE_DIR)]

    # an analysis of the sample takes seconds; listing the sources, milliseconds
    run(scenario, SAMPLE_DIR, extra=("--timeout", "0.5"))


def test_abandoned_calls_hold_their_slot_until_their_work_ends():
    import threading

    release = threading.Event()
    finished: list[str] = []

    def stuck() -> dict[str, Any]:
        release.wait()
        finished.append("stuck")
        return {"late": True}

    async def main() -> None:
        busy = mcpserver.Busy(timeout=0.05, size=2)
        for _ in range(2):
            with pytest.raises(UsageError, match=r"took longer than 0\.05 s and was abandoned"):
                await busy.run(stuck)
        with pytest.raises(UsageError, match="the server is busy: 2 earlier calls"):
            await busy.run(lambda: {"quick": True})
        release.set()
        while len(finished) < 2:  # the abandoned work ends, and frees its slot
            await asyncio.sleep(0.01)
        for _ in range(3000):  # 30 s at most
            try:
                assert await busy.run(lambda: {"quick": True}) == {"quick": True}
                return
            except UsageError:  # the slot is released just after the work ends
                await asyncio.sleep(0.01)
        raise AssertionError("the slots were not released")

    asyncio.run(main())


def test_a_bug_in_a_tool_is_a_tool_error_not_a_crash(capsys: pytest.CaptureFixture[str]):
    class Broken(mcpserver.Tools):
        def list_sources(self) -> dict[str, Any]:
            raise RuntimeError("boom")

    server = mcpserver.build_server(Broken(mcpserver.Roots([str(SAMPLE_DIR)])))

    async def main() -> None:
        async with mcp.Client(server) as client:  # the SDK's client, in-process
            assert await error(client, "list_sources") == (
                "internal error (RuntimeError): boom; please report it"
            )
            assert (await ok(client, "describe_columns", source="builds.parquet"))["columns"]

    asyncio.run(main())
    assert "RuntimeError: boom" in capsys.readouterr().err  # the log has the traceback


# -- bounded outputs ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 400-column source, a column with a million values, and million-character values."""
    import numpy as np

    folder = tmp_path_factory.mktemp("big")
    rng = np.random.default_rng(0)
    n = 3000
    wide = {f"attribute_{i:03d}_{'n' * 40}": rng.choice(["x", "y", "z"], n) for i in range(400)}
    pl.DataFrame(wide).with_columns(bad=pl.Series(rng.random(n) < 0.1)).write_parquet(
        folder / "wide.parquet"
    )
    unique = 1_000_000
    many = pl.DataFrame(
        {
            "many": pl.concat(
                [
                    pl.int_range(unique, eager=True).cast(pl.String).str.zfill(7),
                    (pl.int_range(500_000, eager=True) % 100).cast(pl.String),
                ]
            ),
        }
    ).with_columns(
        bad=pl.int_range(pl.len()).hash(1) % 20 == 0,
        region=pl.int_range(pl.len()) % 3,
    )
    many.write_parquet(folder / "many.parquet")
    m = 200
    pl.DataFrame(
        {
            "text": ["L" * 1_000_000 if i < 20 else f"short {i % 3}" for i in range(m)],
            "bad": [i < 20 for i in range(m)],
        }
    ).write_parquet(folder / "long.parquet")
    return folder


def _size(doc: dict[str, Any]) -> int:
    return len(json.dumps(doc, ensure_ascii=False))


def test_outputs_stay_under_the_documented_size(big: Path):
    limit = mcpserver.MAX_OUTPUT

    async def scenario(client: Any) -> None:
        # 400 columns: describe pages through them, analyze lists the attributes that differ most
        described = await ok(client, "describe_columns", source="wide.parquet")
        assert described["columns_total"] == 401
        assert len(described["columns"]) == mcpserver.MAX_COLUMNS
        assert described["next_offset"] == mcpserver.MAX_COLUMNS
        answer = await ok(client, "analyze", source="wide.parquet", where="bad", top=50)
        assert answer["attributes_total"] == 400
        assert len(answer["attributes"]) == mcpserver.MAX_ATTRIBUTES
        assert answer["truncated"]["attributes"] == f"kept {mcpserver.MAX_ATTRIBUTES} of 400"
        rows = await ok(client, "example_rows", result_id=answer["result_id"], limit=20)
        assert len(rows["columns"]) == mcpserver.MAX_ROW_COLUMNS
        assert rows["columns_total"] == 401
        sizes = [_size(described), _size(answer), _size(rows)]

        # a column with a million values
        described = await ok(client, "describe_columns", source="many.parquet")
        assert described["columns"][0]["distinct"] > 800_000  # an estimate of 1,000,100
        answer = await ok(client, "analyze", source="many.parquet", where="bad", top=50)
        assert any(a["attribute"] == "many" for a in answer["attributes"])
        counts = await ok(
            client, "value_counts", result_id=answer["result_id"], attribute="many", top=50
        )
        assert len(counts["values"]) == 51  # 50 values and "other"
        assert counts["values"][-1]["type"] == "other"
        sizes += [_size(described), _size(answer), _size(counts)]

        # million-character values: cut with a marker wherever they appear
        answer = await ok(client, "analyze", source="long.parquet", where="bad", top=50)
        # the long value covers exactly the selection: it restates it, and is cut there too
        assert answer["restatements"][0]["label"].endswith("more characters]")
        rows = await ok(client, "example_rows", result_id=answer["result_id"], limit=20)
        assert len(rows["selection"]) == 20
        cut = rows["selection"][0]["text"]
        assert cut == "L" * mcpserver.MAX_TEXT + "…[999,800 more characters]"
        counts = await ok(client, "value_counts", result_id=answer["result_id"], attribute="text")
        assert len(counts["values"][0]["value"]) < mcpserver.MAX_TEXT + 40
        sizes += [_size(answer), _size(rows), _size(counts)]
        assert max(sizes) <= limit, sizes

    run(scenario, big)


def test_bound_halves_the_longest_list_until_the_answer_fits():
    doc = {"a": [{"x": "y" * 100} for _ in range(40)], "b": list(range(10))}
    out = mcpserver.bound(doc, limit=1_000)
    assert _size(out) <= 1_000
    assert out["b"] == list(range(10))
    assert out["truncated"]["a"] == f"kept {len(out['a'])} of 40"


# -- results kept in memory --------------------------------------------------------------
def test_results_are_kept_by_id_least_recently_used_dropped_first():
    store = mcpserver.Results(size=2)
    r = bubbleup.analyze(
        pl.DataFrame({"k": ["a", "b"] * 20, "bad": [True, False] * 20}), where="bad"
    )
    first, second = store.add(r), store.add(r)
    assert store.get(first) is r  # first is now the most recent
    third = store.add(r)
    assert store.get(first) is r
    assert store.get(third) is r
    with pytest.raises(UsageError, match=rf"no result '{second}'; .* last 2 results \(now: "):
        store.get(second)


def test_roots_refuse_paths_that_leave_them(tmp_path: Path):
    (tmp_path / "in").mkdir()
    (tmp_path / "out.csv").write_text("a\n1\n")
    (tmp_path / "in" / "a.csv").write_text("a\n1\n")
    (tmp_path / "in" / "b.csv").symlink_to(tmp_path / "out.csv")
    roots = mcpserver.Roots([str(tmp_path / "in")])
    assert roots.source("a.csv") == str((tmp_path / "in" / "a.csv").resolve())
    for bad in ("../out.csv", str(tmp_path / "out.csv"), "b.csv", "*.csv", "."):
        with pytest.raises(SourceError, match="outside the served roots"):
            roots.source(bad)
    with pytest.raises(UsageError, match="is not a folder"):
        mcpserver.Roots([str(tmp_path / "out.csv")])
    # several roots: a relative path or glob is taken under the first root where it is found
    (tmp_path / "second").mkdir()
    (tmp_path / "second" / "c.ndjson").write_text('{"a": 1}\n')
    both = mcpserver.Roots([str(tmp_path / "in"), str(tmp_path / "second")])
    assert both.source("*.ndjson") == str(tmp_path.resolve() / "second" / "*.ndjson")
    assert both.source("c.ndjson") == str(tmp_path.resolve() / "second" / "c.ndjson")
    assert both.source("a.csv") == str(tmp_path.resolve() / "in" / "a.csv")


# -- streamable HTTP ---------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@asynccontextmanager
async def _http_server(token: str) -> AsyncIterator[str]:
    port = _free_port()
    env = {**_env(), mcpserver.TOKEN_VARIABLE: token}
    cmd = [sys.executable, "-m", "bubbleup", "mcp", "--root", str(SAMPLE_DIR)]
    proc = subprocess.Popen(
        [*cmd, "--http", str(port)], cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "the server did not start"
            await asyncio.sleep(0.2)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        if proc.stderr:
            proc.stderr.close()


def test_streamable_http_needs_the_token_and_answers_like_stdio():
    import httpx2
    from mcp.client.streamable_http import streamable_http_client

    token = "test-token-1234"

    async def main() -> None:
        async with _http_server(token) as url:
            async with httpx2.AsyncClient(timeout=30) as plain:
                init = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
                headers = {"Accept": "application/json, text/event-stream"}
                no_token = await plain.post(url, json=init, headers=headers)
                assert no_token.status_code == 401
                wrong = await plain.post(
                    url, json=init, headers={**headers, "Authorization": "Bearer nope"}
                )
                assert wrong.status_code == 401
                bad_host = await plain.post(
                    url,
                    json=init,
                    headers={**headers, "Authorization": f"Bearer {token}", "Host": "evil.com"},
                )
                assert bad_host.status_code == 421
            auth = httpx2.AsyncClient(
                headers={"Authorization": f"Bearer {token}"},
                timeout=httpx2.Timeout(30, read=300),  # the SDK's own defaults
            )
            async with auth, mcp.Client(streamable_http_client(url, http_client=auth)) as client:
                assert {t.name for t in (await client.list_tools()).tools} == TOOLS
                answer = await ok(client, "analyze", source="builds.parquet", where=OOM, top=1)
                assert answer["explanations"][0]["label"] == (
                    "kernel_version = '5.15.0-91-generic' AND build_tool = 'gradle'"
                )
                refused = await error(client, "describe_columns", source="../README.md")
                assert "outside the served roots" in refused

    asyncio.run(main())


# -- the CLI command ---------------------------------------------------------------------
def test_without_the_sdk_the_command_says_how_to_install_it():
    blocked = (
        "import sys; sys.modules['mcp'] = None; "
        "sys.argv = ['bubbleup', 'mcp', '--root', 'sample_data']; "
        "from bubbleup.interfaces.cli import main; main()"
    )
    proc = subprocess.run(
        [sys.executable, "-c", blocked],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=_env(),
        check=False,
    )
    assert proc.returncode == 1
    assert proc.stderr == (
        "Error: bubbleup mcp needs the MCP SDK; install it with: pip install 'bubbleup[mcp]'\n"
    )


def test_core_dependencies_do_not_include_the_sdk():
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert not any(d.startswith("mcp") for d in project["dependencies"])
    assert any(d.startswith("mcp>=") for d in project["optional-dependencies"]["mcp"])
    assert "bubbleup[mcp]" in project["optional-dependencies"]["test"]


def test_a_root_that_is_not_a_folder_is_bad_usage(tmp_path: Path):
    proc = cli("mcp", "--root", str(tmp_path / "missing"))
    assert proc.returncode == 2
    assert proc.stderr.startswith("Error: --root ")
    assert "is not a folder" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert "╭─" not in proc.stderr


# -- the README's transcript -------------------------------------------------------------
def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return float(f"{value:.3g}")
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value


def _pretty(value: Any, indent: int = 0) -> str:
    """JSON with each list entry or key on its own line, short parts on one line."""
    flat = json.dumps(value, ensure_ascii=False)
    if len(flat) <= 100 - indent or not isinstance(value, (dict, list)) or not value:
        return flat
    pad = " " * (indent + 1)
    if isinstance(value, dict):
        parts = [f"{pad}{json.dumps(k)}: {_pretty(v, indent + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(parts) + "\n" + " " * indent + "}"
    parts = [pad + _pretty(v, indent + 1) for v in value]
    return "[\n" + ",\n".join(parts) + "\n" + " " * indent + "]"


async def transcript(client: Any) -> str:
    """A short session on the sample's incident, as the README shows it."""
    out: list[str] = []

    async def say(tool: str, keep: Callable[[dict[str, Any]], Any], **args: Any) -> Any:
        out.append(f"> {tool} {json.dumps(args)}")
        res = await client.call_tool(tool, args)
        if res.is_error:
            out.append(f"error: {res.content[0].text}".replace(f"{ROOT}{os.sep}", ""))
            return None
        shown = _rounded(keep(res.structured_content))
        out.append(_pretty(shown))
        return res.structured_content

    figures = ("selection_share", "baseline_share", "lift", "q_value", "explained_by")

    def explanations(d: dict[str, Any]) -> dict[str, Any]:
        rows = [{"rank": e["rank"], "label": e["label"], **{k: e[k] for k in figures}}
                for e in d["explanations"]]  # fmt: skip
        return {"result_id": d["result_id"], "summary": d["summary"], "explanations": rows}

    await say(
        "list_sources",
        lambda d: [{k: s[k] for k in ("kind", "format", "events")} for s in d["sources"]],
    )
    first = await say("analyze", explanations, source="builds.parquet", where=OOM, top=3)
    rid = first["result_id"]
    await say(
        "value_counts",
        lambda d: [
            {k: v[k] for k in ("value", "selection_share", "baseline_share")} for v in d["values"]
        ],
        result_id=rid,
        attribute="build_tool",
        top=2,
    )
    await say("drill", explanations, result_id=rid, explanation=2, top=2)
    await say(
        "example_rows",
        lambda d: d["selection"],
        result_id=rid,
        explanation=1,
        columns=["build_id", "node_pool", "memory_limit_mb", "duration_ms"],
        limit=2,
    )
    await say("describe_columns", lambda d: d, source="../README.md")
    return "\n".join(out) + "\n"


def _readme_transcript() -> str:
    import re

    readme = (ROOT / "README.md").read_text()
    found = re.search(r"<!-- mcp transcript -->\n```text\n(.*?)```", readme, re.S)
    assert found is not None, "README.md has no <!-- mcp transcript --> block"
    return found.group(1)


def test_readme_transcript_is_what_the_server_answers():
    async def scenario(client: Any) -> None:
        assert await transcript(client) == _readme_transcript()

    run(scenario, SAMPLE_DIR)


if __name__ == "__main__":  # print the README's transcript: python tests/test_mcp.py

    async def _print(client: Any) -> None:
        print(await transcript(client), end="")

    run(_print, SAMPLE_DIR)
