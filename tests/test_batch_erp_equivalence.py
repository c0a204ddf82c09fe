"""The batch memos never change a result: today's ERP orders (benchmarks/gen_erp_orders.py: dated in the
90 days before 2026-10-01 so the Commerce Country Chart applies, 1-8 lines per order, a Zipf customer
master of real business names plus real list entries in ERP spellings) screened with every memo on
(item gates, chart determinations, shipment cache, batched party memo) and with every memo off give
byte-identical output, with --jobs 1 and 2."""

from __future__ import annotations

import csv
import datetime as dt
import importlib.util
import io
from pathlib import Path

import pytest

from ecscreen.engine.core import Engine
from ecscreen.packs.registry import cached_registry
from ecscreen.runners import batch
from ecscreen.runners.batch import BatchOptions, run_batch

ROOT = Path(__file__).resolve().parents[1]
NAMES = ROOT / "tests" / "fixtures" / "batch" / "sec_names_sample.csv"


def _gen():
    spec = importlib.util.spec_from_file_location("gen_erp_orders", ROOT / "benchmarks" / "gen_erp_orders.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def erp_orders() -> bytes:
    with NAMES.open(encoding="utf-8", newline="") as fh:
        names = [r["name"] for r in csv.DictReader(fh)]
    out = io.StringIO()
    stats = _gen().generate(2000, out, as_of=dt.date(2026, 10, 1), seed=5, names=names, listed_share=0.05)
    assert stats["rows"] == 2000 and stats["listed_customers"] > 0
    return out.getvalue().encode()


class _NoMemo:
    def __init__(self, engine: object) -> None:
        pass

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def _run(engine: Engine, data: bytes, fmt: str, jobs: int, *, cache_size: int) -> str:
    out = io.StringIO()
    s = run_batch(io.BytesIO(data), out, engine, fmt=fmt, options=BatchOptions(jobs=jobs, cache_size=cache_size))
    assert s.rows == data.count(b"\n") - 1
    return out.getvalue()


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_erp_orders_identical_with_and_without_memos(erp_orders, fmt, monkeypatch):
    fast = Engine.build(cached_registry(), use_lists=True, today=dt.date.today())
    plain = Engine.build(fast.registry, use_lists=True, today=dt.date.today())
    plain.memo = False
    with monkeypatch.context() as m:
        m.setattr(batch, "_party_memo", _NoMemo)
        ref = _run(plain, erp_orders, fmt, 1, cache_size=0)  # every shipment screened from scratch
    assert not any(cp._item_skip for cp in plain.compiled) and not plain._chart_memo
    got = {jobs: _run(fast, erp_orders, fmt, jobs, cache_size=10_000) for jobs in (1, 2)}
    assert fast._chart_memo and any(cp._item_skip for cp in fast.compiled)  # the memos were used
    for jobs, text in got.items():
        assert text == ref, f"--jobs {jobs}"
    # the rows exercise the chart and the lists, not only clear EAR99 lines
    decisions = [ln.rsplit(",", 5)[0] for ln in ref.splitlines()] if fmt == "csv" else []
    if fmt == "jsonl":
        import json

        recs = [json.loads(x) for x in ref.splitlines()]
        kinds = {r["decision"] for r in recs}
        assert {"clear", "review", "license_required", "prohibited"} <= kinds
        assert any(r["rule_ids"] and r["rule_ids"][0].startswith("CHART-") for r in recs)
        assert any(r["list_hits"] for r in recs)
    else:
        assert len(decisions) == 2001
