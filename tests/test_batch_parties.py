"""Batch party screening (one matcher call per chunk of orders) gives byte-identical output to the
per-party path and to unmemoised screening, with --jobs 1 and 2, with and without clearances."""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path

import pytest

from ecscreen.engine.core import Engine
from ecscreen.packs.registry import load_registry
from ecscreen.runners import batch
from ecscreen.runners.batch import BatchOptions, run_batch

ROOT = Path(__file__).resolve().parents[1]
PACKS = [ROOT / "rules" / "us-ear" / n for n in ("country-groups.yaml", "embargoes.yaml", "advanced-computing.yaml")]

NAMES = [("Huawei Technologies Co. Ltd.", "CN"), ("Huawei Technolgies Co Ltd", "CN"), ("Rosoboronexport", "RU"),
         ("Muster Automation GmbH", "DE"), ("Moscow Institute of Physics and Technology", "RU"),
         ("Acme Widgets Ltd", "GB"), ("Semiconductor Manufacturing International Corporation", "CN"),
         ("Nordlicht Logistik GmbH", "DE"), ("Islamic Revolutionary Guard Corps", "IR")]


def _orders(n: int = 900) -> bytes:
    """Repeated and distinct parties (as end user, consignee and purchaser: parties[0..2]) on many dates."""
    lines = ["order_id,date,destination,description,eccn,end_user,end_user_country,consignee,consignee_country,"
             "purchaser,purchaser_country"]
    for i in range(n):
        o = i // 3
        eu, euc = NAMES[o % len(NAMES)]
        cn, cnc = NAMES[(o * 5 + 2) % len(NAMES)] if o % 4 else ("", "")
        pu, puc = NAMES[(o * 7 + 1) % len(NAMES)] if o % 3 else ("", "")
        if o % 11 == 0:
            eu = f"Distinct Customer {o} Ltd"  # seen once
        date = f"2024-{1 + o % 12:02d}-{1 + (o * 7) % 28:02d}"
        lines.append(f"O{o},{date},{euc},Widget {i % 4},{('EAR99', '3A090.a', '')[i % 3]},{eu},{euc},{cn},{cnc},"
                     f"{pu},{puc}")
    return ("\n".join(lines) + "\n").encode()


class _NoMemo:
    """Stand-in for batch._party_memo: the engine screens every shipment's parties itself."""

    def __init__(self, engine: object) -> None:
        pass

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


@pytest.fixture(scope="module")
def list_engine() -> Engine:
    return Engine.build(load_registry(PACKS), use_lists=True, today=dt.date.today())


def _outputs(engine: Engine, data: bytes, fmt: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    got: dict[str, str] = {}
    for mode in ("batch", "per-party", "no-memo"):
        with monkeypatch.context() as m:
            if mode == "per-party":
                m.setattr(batch, "PARTY_BATCH", False)
            if mode == "no-memo":
                m.setattr(batch, "_party_memo", _NoMemo)
            m.setattr(batch, "CHUNK", 37)  # many chunks, memo hits across chunks
            for jobs in (1, 2):
                out = io.StringIO()
                s = run_batch(io.BytesIO(data), out, engine, fmt=fmt, options=BatchOptions(jobs=jobs))
                assert s.rows == data.count(b"\n") - 1
                got[f"{mode}/{jobs}"] = out.getvalue()
    return got


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_batch_party_screening_identical_to_per_party(list_engine, fmt, monkeypatch):
    data = _orders()
    got = _outputs(list_engine, data, fmt, monkeypatch)
    ref = got["per-party/1"]
    for k, v in got.items():
        assert v == ref, k
    if fmt == "jsonl":
        recs = [json.loads(x) for x in ref.splitlines()]
        assert len(recs) == data.count(b"\n") - 1
        assert [r["input"]["order_id"] for r in recs] == [ln.split(",")[0] for ln in data.decode().splitlines()[1:]]
        fields = {h["field"] for r in recs for h in r["list_hits"]}
        assert {"parties[0].name", "parties[1].name", "parties[2].name"} <= fields  # re-indexed evidence
        assert {r["decision"] for r in recs} >= {"clear", "prohibited", "license_required"}


def test_batch_party_screening_with_clearances_keeps_dates(list_engine, monkeypatch, tmp_path):
    """Clearances expire: the date stays in the memo key and each date gets its own batch call."""
    f = tmp_path / "clear.yaml"
    f.write_text("kind: party_clearances\nclearances:\n"
                 "  - {party: Huawei Technologies Co. Ltd., entry_id: EL-3334, reason: test, approver: qa,"
                 " expires: 2024-06-15}\n"
                 "  - {party: Rosoboronexport, entry_id: SDN-18782, reason: test, approver: qa}\n")
    # the clearances of the run, as the CLI passes them (--clearances or $ECSCREEN_CLEARANCES via its settings)
    from ecscreen.parties.screening import load_allowlists

    engine = Engine.build(list_engine.registry, use_lists=True, today=dt.date.today(), allowlist=load_allowlists([f]))
    data = _orders(600)
    got = _outputs(engine, data, "jsonl", monkeypatch)
    ref = got["per-party/1"]
    for k, v in got.items():
        # unmemoised screening repeats a shipment's expired-clearance warning once per party that
        # triggers it; the memo (per-party and batch alike) lists each warning once: not compared
        if not k.startswith("no-memo"):
            assert v == ref, k
    recs = [json.loads(x) for x in ref.splitlines()]
    assert any(fd.get("covered_by") for r in recs for fd in r["findings"])
    assert any("expired on 2024-06-15" in w for r in recs for w in r["warnings"])


def test_prefetch_fills_memo_in_one_call(monkeypatch):
    from ecscreen.model import Party
    from ecscreen.parties import screening as parties
    from ecscreen.runners.batch import PartyMemo

    calls: list[int] = []
    real = parties.screen_party_batches

    def spy(batches, **kw):
        calls.append(len(batches))
        return real(batches, **kw)

    import datetime as dt

    memo = PartyMemo(parties.screen_parties)
    memo.batch = spy
    ps = [Party(role="end_user", name=n, country=c) for n, c in NAMES]
    days = [dt.date(2024, 1, 1) + dt.timedelta(days=d) for d in range(5)]
    assert memo.prefetch([(p, d) for p in ps for d in days]) == len(NAMES)  # the date is not in the key
    assert calls == [len(NAMES)]
    for d in days:
        memo(ps, as_of=d)
    assert calls == [len(NAMES)] and memo.misses == len(NAMES) and memo.hits == len(NAMES) * 4
    assert memo.prefetch([(p, days[0]) for p in ps]) == 0 and calls == [len(NAMES)]
