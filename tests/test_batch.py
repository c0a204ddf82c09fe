"""ecscreen batch: rows in = rows out, in order; encodings, delimiters, spreadsheet safety, exit codes."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import tracemalloc
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ecscreen.cli.main import app, main
from ecscreen.engine.core import Engine
from ecscreen.packs.registry import load_registry
from ecscreen.runners.batch import (
    BatchOptions,
    Columns,
    OrderRow,
    ParsedRow,
    RawRow,
    group_orders,
    parse_row,
    run_batch,
    spreadsheet_safe,
)

ROOT = Path(__file__).resolve().parents[1]
FX = ROOT / "tests" / "fixtures" / "batch"
PACKS = [ROOT / "rules" / "us-ear" / n for n in ("country-groups.yaml", "embargoes.yaml", "advanced-computing.yaml")]
RULES = [a for p in PACKS for a in ("--rules-only", str(p))]
runner = CliRunner()


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine.build(load_registry(PACKS), use_lists=False, today=dt.date.today())


def _csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def _run(engine: Engine, text: str | bytes, fmt: str = "csv", **kw):
    data = text.encode() if isinstance(text, str) else text
    out = io.StringIO()
    summary = run_batch(io.BytesIO(data), out, engine, fmt=fmt, **kw)
    return summary, out.getvalue()


def test_sample_orders_rows_in_equal_rows_out():
    r = runner.invoke(app, ["batch", str(FX / "orders.csv"), "--no-lists", *RULES])
    assert r.exit_code == 3  # one row has an unknown country
    rows = _csv(r.stdout)
    with (FX / "orders.csv").open(newline="") as fh:
        src = list(csv.DictReader(fh))
    assert len(rows) == len(src) == 8
    assert [x["order_id"] for x in rows] == [x["order_id"] for x in src]
    dec = {(x["order_id"], x["description"].split("\n")[0]): x["decision"] for x in rows}
    # --no-lists: an order with parties is never clear (PARTIES-NOT-SCREENED, issue 12)
    assert dec[("SO-1001", "Industrial PLC controller")] == "review"
    assert dec[("SO-1002", "Data-center GPU accelerator")] == "license_required"
    assert dec[("SO-1002", "Rack power supply")] == "review"  # same order: item-scoped rule, unscreened parties
    assert dec[("SO-1003", "Laptop computer")] == "prohibited"
    assert dec[("SO-1004", "Spare parts for pumps")] == "license_required"
    assert dec[("SO-1005", "Network switch")] == "error"
    gpu = next(x for x in rows if x["description"] == "Data-center GPU accelerator")
    assert gpu["rule_ids"] == "AC-3A090A-2023;PARTIES-NOT-SCREENED"
    assert "China (CN)" in gpu["reasons"] and "TPP 5200" in gpu["reasons"]
    err = next(x for x in rows if x["decision"] == "error")
    assert "unknown country 'Atlantis'" in err["message"]
    assert "8 rows (7 orders)" in r.stderr and "1 prohibited" in r.stderr and "1 errors" in r.stderr


def test_quoted_newline_kept_and_formula_neutralised():
    r = runner.invoke(app, ["batch", str(FX / "orders.csv"), "--no-lists", *RULES])
    rows = _csv(r.stdout)
    jp = next(x for x in rows if x["order_id"] == "SO-1006")
    assert jp["description"] == "Gaming GPU, consumer\n(multi-line description)"
    assert jp["end_user"].startswith("'=HYPERLINK")
    for x in rows:
        for v in x.values():
            assert not v or v[0] not in "=+-@", v


@pytest.mark.parametrize("value,expected", [("=1+2", "'=1+2"), ("+49 30", "'+49 30"), ("-5", "'-5"),
                                            ("@SUM(A1)", "'@SUM(A1)"), ("\tx", "'\tx"), ("safe", "safe"), ("", "")])
def test_spreadsheet_safe(value, expected):
    assert spreadsheet_safe(value) == expected


def test_bom_semicolon_crlf_latin1_and_column_map():
    """A Latin-1 line in a UTF-8 file is an error row naming the cell (never guessed); the same file
    read with --encoding latin-1 screens every row."""
    args = ["batch", str(FX / "erp-export.csv"), "--no-lists", *RULES,
            "--columns", str(FX / "erp-columns.yaml"), "--format", "jsonl"]
    r = runner.invoke(app, args)
    assert r.exit_code == 3
    recs = [json.loads(line) for line in r.stdout.splitlines()]
    assert [x["input"]["Order ID"] for x in recs] == ["A-1", "A-2", "A-3"]
    assert recs[0]["input"]["Item Text"] == "Widget, large\r\nsecond line"
    assert [x["decision"] for x in recs] == ["clear", "license_required", "error"]
    assert "erp-export.csv:5: column 4 (Item Text)" in recs[2]["message"] and "byte 0xE9" in recs[2]["message"] and "--encoding" in recs[2]["message"]
    r = runner.invoke(app, [*args, "--encoding", "latin-1"])
    assert r.exit_code == 1
    recs = [json.loads(line) for line in r.stdout.splitlines()]
    assert [x["decision"] for x in recs] == ["clear", "license_required", "clear"]
    assert recs[2]["input"]["Item Text"] == "Café machine à espresso"


def test_json_array_and_jsonl(engine):
    text = (FX / "orders.csv").read_bytes()
    s1, out_json = _run(engine, text, "json")
    s2, out_jsonl = _run(engine, text, "jsonl")
    arr = json.loads(out_json)
    lines = [json.loads(x) for x in out_jsonl.splitlines()]
    assert arr == lines and len(arr) == 8 == s1.rows == s2.rows
    gpu = arr[1]
    assert gpu["line"] == 3 and gpu["decision"] == "license_required"
    f = gpu["findings"][0]
    assert f["rule_id"] == "AC-3A090A-2023" and "15 CFR 742.6(a)(6)(iii)" in f["citations"]


def test_row_errors_do_not_stop_the_run(engine):
    text = ("order_id,destination,description,eccn,us_content_percent,param_tpp\n"
            "1,DE,Widget,EAR99,,\n"
            "2,DE,Widget,not-an-eccn,,\n"
            "3,DE,Widget,EAR99,150,\n"
            "4,DE,Widget,EAR99,,fast\n"
            "5,,Widget,EAR99,,\n"
            "6,DE,,EAR99,,\n"
            "7,DE,Widget,EAR99,,,extra\n"
            "8,DE,Widget,EAR99,,\n")
    s, out = _run(engine, text)
    rows = _csv(out)
    assert [x["order_id"] for x in rows] == [str(i) for i in range(1, 9)]
    assert [x["decision"] for x in rows] == ["clear", "error", "error", "error", "error", "error", "error", "clear"]
    msgs = [x["message"] for x in rows]
    assert "malformed ECCN" in msgs[1]
    assert "us_content_percent" in msgs[2]
    assert "param_tpp" in msgs[3]
    assert "destination: missing" in msgs[4]
    assert "description: missing" in msgs[5]
    assert "row has 7 cells, the header has 6" in msgs[6] and msgs[6].startswith("<stdin>:8: ")
    assert s.exit_code == 3 and s.counts["error"] == 6


def test_order_lines_share_shipment_and_conflicts_are_errors(engine):
    """A real conflict inside an order is an error on EVERY line of that order (the first line is
    not screened as if it were the order), in plain words."""
    text = ("order_id,destination,end_user,description,eccn\n"
            "A,CN,Acme,Widget,EAR99\n"
            "A,,,Data-center GPU,3A090.a\n"
            "A,DE,,Widget 2,EAR99\n"
            "B,CU,,Widget,EAR99\n")
    s, out = _run(engine, text, options=BatchOptions(as_of=dt.date(2024, 6, 1)))
    rows = _csv(out)
    assert [x["decision"] for x in rows] == ["error", "error", "error", "license_required"]
    for r in rows[:3]:
        assert "order A: lines disagree: destination is 'CN' on line 2 but 'DE' on line 4" in r["message"]
    assert s.orders == 2
    text = ("order_id,destination,end_user,description,eccn\n"
            "A,CN,Acme,Widget,EAR99\n"
            "A,,,Data-center GPU,3A090.a\n"
            "A,CN,,Widget 2,EAR99\n")
    rows = _csv(_run(engine, text, options=BatchOptions(as_of=dt.date(2024, 6, 1)))[1])
    # the order's end user (Acme) is unscreened with --no-lists: review, not clear (issue 12)
    assert [x["decision"] for x in rows] == ["review", "license_required", "review"]


def test_non_adjacent_order_lines_warn(engine):
    text = "order_id,destination,description\nA,DE,x\nB,DE,y\nA,DE,z\n"
    _, out = _run(engine, text)
    rows = _csv(out)
    assert "not adjacent" in rows[2]["message"] and rows[2]["decision"] == "clear"


def test_exit_codes(tmp_path):
    clear = tmp_path / "clear.csv"
    clear.write_text("destination,description,eccn\nDE,Widget,EAR99\nFR,Widget,EAR99\n")
    assert runner.invoke(app, ["batch", str(clear), "--no-lists", *RULES]).exit_code == 0
    flagged = tmp_path / "flagged.csv"
    flagged.write_text("destination,description,eccn\nDE,Widget,EAR99\nIR,Widget,EAR99\n")
    assert runner.invoke(app, ["batch", str(flagged), "--no-lists", *RULES]).exit_code == 1


def test_out_file_and_usage_errors(tmp_path, capsys):
    out = tmp_path / "out.csv"
    r = runner.invoke(app, ["batch", str(FX / "orders.csv"), "--no-lists", *RULES, "--out", str(out)])
    assert r.exit_code == 3 and r.stdout == ""
    assert len(_csv(out.read_text())) == 8
    assert main(["batch", str(tmp_path / "missing.csv")]) == 2
    assert main(["batch", str(FX / "orders.csv"), "--format", "xml"]) == 2
    nodest = tmp_path / "nodest.csv"
    nodest.write_text("country,description\nDE,x\n")
    assert main(["batch", str(nodest), "--no-lists", *RULES]) == 2
    assert "no 'destination' column" in capsys.readouterr().err
    badmap = tmp_path / "map.yaml"
    badmap.write_text("colour: Farbe\n")
    assert main(["batch", str(FX / "orders.csv"), "--columns", str(badmap)]) == 2


def test_memoised_results_identical_and_bounded(engine):
    calls = {"n": 0}

    class Counting:
        registry = engine.registry

        def screen_one(self, *a, **kw):
            calls["n"] += 1
            return engine.screen_one(*a, **kw)

    head = "order_id,date,destination,description,eccn,param_tpp\n"
    body = "".join(f"O{i},2024-06-01,{'CN' if i % 2 else 'DE'},GPU,3A090.a,5200\n" for i in range(200))
    out1 = io.StringIO()
    s = run_batch(io.BytesIO((head + body).encode()), out1, Counting(), options=BatchOptions(cache_size=1))
    assert s.rows == 200 and calls["n"] == 200  # alternating keys with a one-entry cache: every order misses
    calls["n"] = 0
    out2 = io.StringIO()
    s2 = run_batch(io.BytesIO((head + body).encode()), out2, Counting())
    assert calls["n"] == 2 and s2.cache_hits == 198
    assert out1.getvalue() == out2.getvalue()
    assert s2.counts["license_required"] == 100 and s2.counts["clear"] == 100


def test_memory_flat_as_file_grows(engine):
    def peak(n: int) -> int:
        head = "order_id,date,destination,description,eccn,end_user\n"
        body = "".join(f"O{i},2024-06-{1 + i % 28:02d},{('DE', 'CN', 'JP', 'FR')[i % 4]},Widget {i % 50},EAR99,"
                       f"Customer {i % 300}\n" for i in range(n))
        data = (head + body).encode()
        tracemalloc.start()
        run_batch(io.BytesIO(data), _Null(), engine,
                  options=BatchOptions(cache_size=500))
        _, pk = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return pk

    small, big = peak(2000), peak(8000)
    assert big < small * 1.5, (small, big)


def test_shipment_cache_shrinks_early_when_shipments_never_repeat(engine):
    """ERP exports: no shipment repeats, so the shipment cache is shrunk after 2,000 misses (it used to fill
    its 10,000 entries first: ~6-9 MB more peak RSS on 100k ERP rows), with identical rows."""
    from ecscreen.runners.batch import SHRUNK_SIZE, BatchScreener

    head = "order_id,date,destination,description,eccn\n"
    body = "".join(f"O{i},2024-06-01,DE,Widget {i},EAR99\n" for i in range(2_100))  # every shipment distinct
    sizes: list[int] = []
    orig = BatchScreener._screen

    def spy(self, *a, **kw):
        sizes.append(len(self.cache))
        return orig(self, *a, **kw)

    BatchScreener._screen = spy  # type: ignore[method-assign]
    try:
        out = io.StringIO()
        s = run_batch(io.BytesIO((head + body).encode()), out, engine, options=BatchOptions(cache_size=10_000))
    finally:
        BatchScreener._screen = orig  # type: ignore[method-assign]
    assert s.rows == 2_100 and s.cache_hits == 0
    assert max(sizes[2_000:]) <= SHRUNK_SIZE  # shrunk at the 2,000th miss, not at the 20,000th
    ref = io.StringIO()
    run_batch(io.BytesIO((head + body).encode()), ref, engine, options=BatchOptions(cache_size=0))
    assert out.getvalue() == ref.getvalue()


class _Null(io.StringIO):
    def write(self, s: str) -> int:
        return len(s)


def test_parse_row_and_grouping_units():
    cols = Columns.from_header(["order_id", "destination", "description", "param_TPP"], {}, "f")
    assert cols.params == {"tpp": 3}  # headers are case-insensitive, parameter names too
    pr = parse_row(RawRow(2, ["1", "Germany", "x", "1.5"]), cols, 4)
    assert pr.error is None and pr.params == {"tpp": 1.5} and pr.fields["destination"] == "Germany"
    pr = parse_row(RawRow(2, ["1", "Germany", "x", "1,5"]), cols, 4)  # a decimal comma is not guessed
    assert pr.error is not None and "f:2:4: param_tpp:" in pr.error and "decimal comma" in pr.error
    rows = [ParsedRow(RawRow(i, []), {"order_id": o, "destination": "DE", "description": "x"}, {})
            for i, o in enumerate(["a", "a", "b", "", ""], 2)]
    orders = list(group_orders(rows, True))
    assert [len(o.rows) for o in orders] == [2, 1, 1, 1]


def test_order_row_schema():
    r = runner.invoke(app, ["schema", "order-row"])
    assert r.exit_code == 0
    schema = json.loads(r.stdout)
    assert {"destination", "description", "params"} <= set(schema["properties"])
    assert OrderRow.model_validate({"destination": "DE", "description": "x", "params": {"tpp": 1}}).params["tpp"] == 1


def test_list_hits_from_party_screening(tmp_path):
    f = tmp_path / "o.csv"
    f.write_text("order_id,date,destination,description,eccn,end_user,end_user_country\n"
                 "1,2024-06-01,CN,Widget,EAR99,Huawei Technologies Co. Ltd.,CN\n"
                 "1,2024-06-01,CN,Widget 2,EAR99,,\n")
    r = runner.invoke(app, ["batch", str(f), *RULES, "--format", "jsonl"])
    recs = [json.loads(x) for x in r.stdout.splitlines()]
    assert len(recs) == 2
    for rec in recs:  # a party hit is shipment-level: it applies to every line of the order
        assert rec["decision"] in ("license_required", "prohibited")
        assert rec["list_hits"] and any("HUAWEI" in str(h["matched"]).upper() for h in rec["list_hits"])
        assert any(x.startswith("PARTY-") for x in rec["rule_ids"])


def test_parallel_jobs_same_output_in_order(engine):
    head = "order_id,date,destination,description,eccn,param_tpp\n"
    body = "".join(f"O{i // 2},2024-06-{1 + i % 28:02d},{('CN', 'DE', 'IR', 'Atlantis', 'MO')[i % 5]},GPU {i % 7},"
                   f"{('3A090.a', 'EAR99', '')[i % 3]},{5200 if i % 4 else ''}\n" for i in range(1500))
    data = (head + body).encode()
    outs = []
    for jobs in (1, 2):
        out = io.StringIO()
        s = run_batch(io.BytesIO(data), out, engine, options=BatchOptions(jobs=jobs))
        outs.append(out.getvalue())
        assert s.rows == 1500 and s.orders == 750
    assert outs[0] == outs[1]


def test_parallel_workers_render_rows_identically_in_every_format(engine, monkeypatch):
    """--jobs workers send back the rows as written (text and decisions), not the outcome objects (issue 14):
    every format (json with and without the envelope, a formula cell and a carriage return in the input)
    is byte-identical to one process, and the workers did render (a chunk's result is text)."""
    from ecscreen.runners import batch as B

    head = "order_id,date,destination,description,eccn,note\n"
    body = "".join(f'O{i // 3},2024-06-{1 + i % 28:02d},{("CN", "DE", "IR", "Atlantis")[i % 4]},GPU {i % 5},'
                   f'{("3A090.a", "EAR99", "")[i % 3]},"{("=1+1", "a" + chr(13) + "b", "plain")[i % 3]}"\n'
                   for i in range(900))
    data = (head + body).encode()
    rendered: list[bool] = []
    real_parallel = B._run_parallel

    def watch(*args, **kw):
        rendered.append(len(args) == 8 and args[7] is not None)
        return real_parallel(*args, **kw)

    monkeypatch.setattr(B, "_run_parallel", watch)
    for fmt, env in (("csv", None), ("jsonl", None), ("json", None), ("json", {"tool": "ecscreen"})):
        outs = []
        for jobs in (1, 2):
            out = io.StringIO()
            s = run_batch(io.BytesIO(data), out, engine, fmt=fmt, options=BatchOptions(jobs=jobs),
                          envelope=dict(env) if env else None)
            outs.append(out.getvalue())
            assert s.rows == 900 and s.orders == 300 and sum(s.counts.values()) == 900
        assert outs[0] == outs[1], fmt
    assert rendered and all(rendered)
    # the worker's answer for a chunk is the rendered text: what run_batch writes for those rows
    B._WORKER.clear()
    B._WORKER.update(engine=engine, options=BatchOptions(), render=("csv", ["order_id", "destination",
                                                                             "description"]))
    try:
        orders = list(B.group_orders(iter([B.parse_row(B.RawRow(values=["O1", "DE", "=cmd"], line=2),
                                                       B.Columns.from_header(["order_id", "destination",
                                                                              "description"], {}, "x"), 3)]),
                                     True))
        got, _ = B._worker_chunk(orders)
    finally:
        B._WORKER.clear()
    texts, decisions = got[0]
    assert decisions == ["clear"] and texts[0].startswith("O1,DE,'=cmd,clear,")


@pytest.mark.parametrize("header", ["order_id,date,destination,description,eccn,end_user,end_user_country",
                                    "order_id,date,destination,description,eccn,end_user,end_user_country,eccn"])
def test_parallel_workers_parse_rows_as_one_process_does(engine, header):
    """--jobs without a recorder: the parent only reads and groups light rows (order id and shard names), the
    workers parse them (issue 14). Grouping and every row's outcome are as with one process, for rows that are
    hard to read: too few cells, an unreadable CSV cell, bad dates and countries, an order split by another
    (not adjacent), a blank order id, spaces around the order id, duplicated columns."""
    from ecscreen.runners import batch as B

    dup = header.endswith(",eccn")
    tail = ",EAR99" if dup else ""
    lines = []
    for i in range(400):
        oid = (f"O{i // 3}", f" O{i // 3} ", "")[i % 7 % 3] if i % 11 else f"O{max(0, i // 3 - 5)}"
        lines.append(f"{oid},2024-06-{1 + i % 28:02d},{('CN', 'DE', 'IR', 'Narnia')[i % 4]},Part {i % 5},"
                     f"{('3A090.a', 'EAR99', 'bad')[i % 3]},Acme {i % 9},DE{tail}")
    lines[5] = "O1,2024-06-01,DE"  # too few cells
    lines[9] = 'O3,2024-06-01,DE,Pump "big" x,EAR99,Acme,DE' + tail  # a quote inside an unquoted cell
    lines[12] = "O4,2024-13-45,DE,Pump,EAR99,Acme,DE" + tail  # not a date
    lines[20] = 'O6,2024-06-01,DE,"unterminated' + tail
    data = (header + "\n" + "\n".join(lines) + "\n").encode()
    outs = []
    for jobs in (1, 2):
        out = io.StringIO()
        s = run_batch(io.BytesIO(data), out, engine, fmt="jsonl", options=BatchOptions(jobs=jobs))
        outs.append((out.getvalue(), s.rows, s.orders, dict(s.counts)))
    assert outs[0] == outs[1]
    assert "not adjacent" in outs[0][0] and '"error"' in outs[0][0]
    # a light row carries the order id exactly as parse_row reads it
    cols = B.Columns.from_header(header.split(","), {}, "x")
    n = len(header.split(","))
    for ln, text in enumerate(lines, 2):
        raw = next(B.read_rows(io.BytesIO((header + "\n" + text + "\n").encode()), B.ReadState(size=None), None))
        raw.line = ln
        assert B.light_row(raw, cols, n).fields.get("order_id") == B.parse_row(raw, cols, n).fields.get("order_id")


def test_party_memo_matches_unmemoised_screening(tmp_path):
    """Per-party memo + re-indexing gives exactly what the engine gives shipment by shipment."""
    from ecscreen.model import Party
    from ecscreen.parties.screening import screen_parties
    from ecscreen.runners.batch import PartyMemo

    on = dt.date(2024, 6, 1)
    ps = [Party(role="end_user", name="Muster Automation GmbH", country="DE"),
          Party(role="consignee", name="Huawei Technologies Co. Ltd.", country="CN"),
          Party(role="purchaser", name="Huawei Technologies Co. Ltd.", country="CN")]
    memo = PartyMemo(screen_parties)
    got = memo(ps, as_of=on)
    want = screen_parties(ps, as_of=on)
    assert [f.model_dump() for f in got.findings] == [f.model_dump() for f in want.findings]
    assert [[h.model_dump() for h in hs] for hs in got.hits] == [[h.model_dump() for h in hs] for hs in want.hits]
    assert any(e.field == "parties[1].name" for f in got.findings for e in f.evidence)
    memo(ps, as_of=on)
    assert memo.misses == 3 and memo.hits == 3  # the key includes the role: consignee and purchaser differ


def test_progress_bar_forced_and_stdin():
    data = (FX / "orders.csv").read_bytes()
    r = runner.invoke(app, ["batch", "-", "--no-lists", *RULES, "--progress", "--format", "jsonl"], input=data)
    assert r.exit_code == 3
    assert len(r.stdout.splitlines()) == 8
    assert "screened 8 rows" in r.stderr
