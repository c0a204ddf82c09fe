"""Regression tests for issue 12 ("Batch CSV") and issue 13 ("Batch orders as ERPs write them").

Each test names the defect it pins: it failed on fcc6007 and passes now."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ecscreen.cli.main import app
from ecscreen.engine.core import Engine
from ecscreen.packs.registry import load_registry
from ecscreen.runners.batch import BatchOptions, ReadState, read_rows, run_batch, spreadsheet_safe

ROOT = Path(__file__).resolve().parents[1]
PACKS = [ROOT / "rules" / "us-ear" / n for n in ("country-groups.yaml", "embargoes.yaml", "advanced-computing.yaml")]
RULES = [a for p in PACKS for a in ("--rules-only", str(p))]
HEAD = "order_id,date,destination,description,eccn,end_user,param_tpp\n"
runner = CliRunner()


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine.build(load_registry(PACKS), use_lists=False, today=dt.date.today())


def _run(engine: Engine, data: str | bytes, fmt: str = "csv", **kw):
    raw = data.encode() if isinstance(data, str) else data
    out = io.StringIO()
    s = run_batch(io.BytesIO(raw), out, engine, fmt=fmt, **kw)
    return s, out.getvalue()


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def _by_order(rows: list[dict[str, str]]) -> dict[str, str]:
    return {r["order_id"]: r["decision"] for r in rows}


# --------------------------------------------------------------------------- strict reader


def test_unterminated_quote_does_not_swallow_the_iran_and_north_korea_orders(engine):
    text = (HEAD + '1,2024-06-01,DE,"Widget, large,EAR99,,\n'
            "2,2024-06-01,IR,Laptop,EAR99,,\n"
            "3,2024-06-01,KP,Laptop,EAR99,,\n"
            "4,2024-06-01,FR,Pump,EAR99,,\n")
    s, out = _run(engine, text)
    rows = _rows(out)
    assert s.rows == 4 == len(rows)
    assert _by_order(rows) == {"1": "error", "2": "prohibited", "3": "license_required", "4": "clear"}
    assert rows[0]["message"].startswith("<stdin>:2: unterminated quote")
    assert s.exit_code == 3


def test_quote_that_swallows_rows_until_a_later_quote_is_an_error_not_a_merge(engine):
    text = (HEAD + '1,2024-06-01,DE,"Widget,EAR99,,\n'
            "2,2024-06-01,IR,Laptop,EAR99,,\n"
            '3,2024-06-01,KP,Laptop",EAR99,,\n')
    s, out = _run(engine, text)
    rows = _rows(out)
    assert len(rows) == 3 and rows[0]["decision"] == "error" and "unterminated quote" in rows[0]["message"]
    assert rows[1]["decision"] == "prohibited"
    # line 4 reads as a row of its own; its stray quote stays in its cell and Korea is still screened
    assert rows[2]["order_id"] == "3" and rows[2]["decision"] in ("license_required", "error")


def test_legit_multiline_quoted_description_is_kept(engine):
    text = HEAD + '1,2024-06-01,DE,"Gaming GPU, consumer\n(multi-line description)",EAR99,,\n2,2024-06-01,FR,Pump,EAR99,,\n'
    s, out = _run(engine, text)
    rows = _rows(out)
    assert [r["decision"] for r in rows] == ["clear", "clear"]
    assert rows[0]["description"] == "Gaming GPU, consumer\n(multi-line description)"


@pytest.mark.parametrize("col", ["destination", "end_user", "eccn"])
def test_duplicate_column_that_disagrees_is_a_row_error(engine, col):
    base = {"destination": ("DE", "IR"), "end_user": ("Acme", "Other Co"), "eccn": ("EAR99", "3A090.a")}[col]
    text = (f"order_id,destination,description,eccn,end_user,{col.upper()}\n"
            f"1,DE,Widget,EAR99,Acme,{base[0] if col != 'destination' else 'DE'}\n"
            f"2,{'DE' if col != 'destination' else base[0]},Widget,EAR99,Acme,{base[1]}\n")
    s, out = _run(engine, text, options=BatchOptions(as_of=dt.date(2024, 6, 1)))
    rows = _rows(out)
    # the end user is not screened with --no-lists lists off: review, never clear (issue 12)
    assert rows[0]["decision"] == "review" and rows[0]["rule_ids"] == "PARTIES-NOT-SCREENED"
    assert rows[1]["decision"] == "error"
    assert "appears twice and the two cells disagree" in rows[1]["message"] and "<stdin>:3:6" in rows[1]["message"]
    assert any(f"column {col!r} appears 2 times" in w for w in s.warnings)


def test_rows_with_too_few_or_too_many_cells_are_errors(engine):
    text = HEAD + "1,2024-06-01,DE,Widget,EAR99\n2,2024-06-01,DE,Widget,EAR99,,,x\n3,2024-06-01,DE,Widget,EAR99,,\n"
    s, out = _run(engine, text)
    rows = _rows(out)
    assert [r["decision"] for r in rows] == ["error", "error", "clear"]
    assert "row has 5 cells, the header has 7" in rows[0]["message"]
    assert "row has 8 cells, the header has 7" in rows[1]["message"]


def test_nul_and_undecodable_bytes_are_row_errors_naming_file_row_column(engine):
    data = (HEAD.encode() + b"1,2024-06-01,DE,Wid\x00get,EAR99,,\n"
            b"2,2024-06-01,DE,Widget,EAR99,M\xfcller GmbH,\n3,2024-06-01,IR,Laptop,EAR99,,\n")
    s, out = _run(engine, data, file="o.csv")
    rows = _rows(out)
    assert [r["decision"] for r in rows] == ["error", "error", "prohibited"]
    assert rows[0]["message"].startswith("o.csv:2: column 4 (description): contains a NUL")
    assert rows[1]["message"].startswith("o.csv:3: column 6 (end_user): byte 0xFC")
    assert "\x00" not in out and "\ufffd" in out  # written back without the NUL, as valid UTF-8


def test_param_header_is_case_insensitive(engine):
    text = "order_id,date,destination,description,eccn,Param_TPP\n1,2024-06-01,CN,Data-center GPU,3A090.a,5200\n"
    s, out = _run(engine, text)
    row = _rows(out)[0]
    assert row["decision"] == "license_required" and "AC-3A090A-2023" in row["rule_ids"]
    assert not any("Param_TPP" in w for w in s.warnings)


@pytest.mark.parametrize("cell", ['"5,200"', "5.200", "5 200", "1.234.567", "nan", "inf", "1e999", "-5"])
def test_thousands_separators_and_locale_ambiguous_numbers_are_errors_naming_the_cell(engine, cell):
    text = HEAD + f"1,2024-06-01,CN,Data-center GPU,3A090.a,,{cell}\n"
    s, out = _run(engine, text, file="o.csv")
    row = _rows(out)[0]
    assert row["decision"] == "error", row
    assert row["message"].startswith("o.csv:2:7: param_tpp: ")


@pytest.mark.parametrize("cell,value", [("5.2", 5.2), ("0.125", 0.125), ("5200", 5200.0), ("5.20", 5.2)])
def test_plain_numbers_still_read(engine, cell, value):
    from ecscreen.runners.batch import _number

    assert _number(cell) == (value, None)


@pytest.mark.parametrize("cell", ["2026-08-15junk", "20260815", "2026-W33-6", "2026-02-30", "15.08.2026"])
def test_date_must_be_exactly_a_date(engine, cell):
    text = HEAD + f"1,{cell},DE,Widget,EAR99,,\n"
    row = _rows(_run(engine, text)[1])[0]
    assert row["decision"] == "error" and "not a date (exactly YYYY-MM-DD)" in row["message"]


@pytest.mark.parametrize("eol", ["\r", "\r\n", "\n", "mixed"])
def test_any_line_ending(engine, eol):
    lines = [HEAD.rstrip("\n"), "1,2024-06-01,DE,Widget,EAR99,,", "2,2024-06-01,IR,Laptop,EAR99,,",
             "3,2024-06-01,KP,Laptop,EAR99,,"]
    text = ("\r".join(lines[:2]) + "\n" + "\r\n".join(lines[2:])) if eol == "mixed" else eol.join(lines) + eol
    s, out = _run(engine, text)
    assert _by_order(_rows(out)) == {"1": "clear", "2": "prohibited", "3": "license_required"}


def test_cells_over_128kb_are_read_and_over_the_cap_are_a_row_error(engine):
    from ecscreen.runners.batch import MAX_CELL

    big = "x" * (200 * 1024)
    huge = "y" * (MAX_CELL + 10)
    text = (HEAD + f"1,2024-06-01,DE,{big},EAR99,,\n" + f'2,2024-06-01,DE,"{huge}",EAR99,,\n'
            + "3,2024-06-01,IR,Laptop,EAR99,,\n")
    s, out = _run(engine, text)
    rows = _rows(out)
    assert [r["decision"] for r in rows] == ["clear", "error", "prohibited"]
    assert "larger than 1024 KiB" in rows[1]["message"]


def test_over_long_line_is_one_error_row_and_reading_goes_on(engine):
    from ecscreen.runners.batch import MAX_LINE

    data = (HEAD + "1,2024-06-01,DE," + "z" * (MAX_LINE + 5) + ",EAR99,,\n3,2024-06-01,IR,Laptop,EAR99,,\n").encode()
    state = ReadState()
    rows = list(read_rows(io.BytesIO(data), state))
    assert [r.line for r in rows] == [2, 3] and rows[0].error and "longer than" in rows[0].error
    assert rows[1].error is None and rows[1].values[2] == "IR"


# --------------------------------------------------------------------------- orders as ERPs write them


def test_first_line_error_keeps_the_orders_end_user(tmp_path):
    """The Huawei order: its first line has a bad parameter; the second line must not come out clear."""
    f = tmp_path / "o.csv"
    f.write_text("order_id,date,destination,description,eccn,end_user,end_user_country,param_tpp\n"
                 "1,2024-06-01,CN,Data-center GPU,3A090.a,Huawei Technologies Co. Ltd.,CN,\"5,200\"\n"
                 "1,2024-06-01,,Widget 2,EAR99,,,\n")
    r = runner.invoke(app, ["batch", str(f), *RULES, "--format", "jsonl"])
    recs = [json.loads(x) for x in r.stdout.splitlines()]
    assert [x["decision"] for x in recs][0] == "error"
    assert recs[1]["decision"] in ("license_required", "prohibited"), recs[1]
    assert any(x.startswith("PARTY-") for x in recs[1]["rule_ids"])
    assert r.exit_code == 3


def test_order_lines_with_different_dates_are_each_screened_at_their_own_date(engine):
    text = (HEAD + "1,2022-11-01,CN,Data-center GPU,3A090.a,,5200\n"
            "1,2024-06-01,CN,Data-center GPU,3A090.a,,5200\n"
            "1,,CN,Pump,EAR99,,\n")
    s, out = _run(engine, text)
    rows = _rows(out)
    assert rows[0]["rule_ids"] == "AC-3A090-2022-CN" and rows[0]["decision"] == "license_required"
    assert "AC-3A090A-2023" in rows[1]["rule_ids"] and rows[1]["decision"] == "license_required"
    # a line without a date in an order with two dates cannot pick one: an error in plain words
    assert rows[2]["decision"] == "error"
    assert "has no date and the order's lines have different dates (2022-11-01, 2024-06-01)" in rows[2]["message"]
    assert "datetime" not in out


def test_kr_and_korea_republic_of_are_one_country(engine):
    text = (HEAD + "1,2024-06-01,KR,Widget,EAR99,,\n1,2024-06-01,\"Korea, Republic of\",Pump,EAR99,,\n"
            "1,2024-06-01,kr,Valve,EAR99,,\n")
    s, out = _run(engine, text)
    assert [r["decision"] for r in _rows(out)] == ["clear", "clear", "clear"]


def test_end_user_spelled_with_other_case_or_spacing_is_one_party(engine):
    text = HEAD + "1,2024-06-01,DE,Widget,EAR99,Acme  GmbH,\n1,2024-06-01,DE,Pump,EAR99,ACME GmbH,\n"
    rows = _rows(_run(engine, text)[1])
    # one party (not an order conflict); unscreened with lists off: review, never clear (issue 12)
    assert [r["decision"] for r in rows] == ["review", "review"]
    assert {r["rule_ids"] for r in rows} == {"PARTIES-NOT-SCREENED"}


def test_conflict_inside_an_order_is_an_error_on_every_line_in_plain_words(engine):
    text = (HEAD + "7,2024-06-01,DE,Widget,EAR99,Acme,\n7,2024-06-01,DE,Pump,EAR99,Other Co,\n"
            "7,2024-06-01,DE,Valve,EAR99,,\n8,2024-06-01,FR,Pump,EAR99,,\n")
    s, out = _run(engine, text)
    rows = _rows(out)
    assert [r["decision"] for r in rows] == ["error", "error", "error", "clear"]
    for r in rows[:3]:
        assert "order 7: lines disagree: end_user is 'Acme' on line 2 but 'Other Co' on line 3" in r["message"]
    assert "datetime" not in out and "Error(" not in out


def test_unreadable_shared_fact_on_one_line_makes_the_whole_order_an_error(engine):
    text = HEAD + "9,2024-06-01,Atlantis,Widget,EAR99,,\n9,2024-06-01,,Pump,EAR99,,\n"
    rows = _rows(_run(engine, text)[1])
    assert [r["decision"] for r in rows] == ["error", "error"]
    assert "cannot read destination on line 2" in rows[1]["message"]


# --------------------------------------------------------------------------- output


def test_bare_cr_in_a_cell_is_quoted_200_rows_in_200_out(engine):
    lines = [f'{i},2024-06-01,DE,"Widget\r=HYPERLINK(""http://evil"")",EAR99,,' for i in range(200)]
    s, out = _run(engine, HEAD + "\n".join(lines) + "\n")
    back = list(csv.reader(io.StringIO(out, newline="")))
    assert len(back) == 201 and s.rows == 200
    assert all(not c.startswith("=") for row in back for c in row)
    assert back[1][3] == "Widget\r=HYPERLINK(\"http://evil\")"


@pytest.mark.parametrize("value", [" =1+2", "\t=1+2", "\r=cmd", "  @SUM(A1)", "\n+1", " -2"])
def test_formula_after_leading_whitespace_tab_or_cr_is_neutralised(value):
    assert spreadsheet_safe(value) == "'" + value


def test_header_cells_are_neutralised_too(engine):
    text = "order_id,destination,description,=cmd\n1,DE,Widget,x\n"
    out = _run(engine, text, options=BatchOptions(as_of=dt.date(2024, 6, 1)))[1]
    assert out.splitlines()[0].split(",")[3] == "'=cmd"


def test_unreadable_line_keeps_its_order_so_later_lines_are_not_screened_without_its_end_user(engine):
    text = (HEAD + '5,2024-06-01,CN,"Widget,EAR99,Huawei Technologies Co. Ltd.,\n'
            "5,2024-06-01,CN,Pump,EAR99,,\n6,2024-06-01,FR,Pump,EAR99,,\n")
    rows = _rows(_run(engine, text)[1])
    assert [r["decision"] for r in rows] == ["error", "error", "clear"]
    assert "order 5: cannot read" in rows[1]["message"]


def test_unreadable_date_on_one_line_is_not_replaced_by_today_on_the_others(engine):
    text = HEAD + "4,2024-06-01junk,DE,Widget,EAR99,,\n4,,DE,Pump,EAR99,,\n"
    rows = _rows(_run(engine, text)[1])
    assert [r["decision"] for r in rows] == ["error", "error"]
    assert "another line's date cannot be read" in rows[1]["message"]
