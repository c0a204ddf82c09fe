"""Issue 14 (h48): per-line shortcuts of the batch hot path give what the general path gives.

- ``jurisdiction.assess_parts`` (memo hits answered without building a result model) equals ``assess``, and a
  changed fact (origin, exporter country, date, an ITAR description) changes its answer as it changes assess's;
- the CSV writer's plain-ASCII fast path writes what the csv module writes, for cells starting with every
  character the spreadsheet guard acts on and for cells needing quotes;
- ``fastmodel.replaced`` (field names read from its own cache) equals ``model_copy``, and falls back for an
  unknown field;
- the chart template writes a line's index into copies (fastmodel.replaced), never into the template.
"""

from __future__ import annotations

import datetime as dt
import io
import itertools
from pathlib import Path
from typing import Any

import pytest

from ecscreen.domain.countries import resolve
from ecscreen.engine import chartmemo
from ecscreen.engine import jurisdiction as J
from ecscreen.engine.fastmodel import replaced
from ecscreen.model import Evidence, Finding, Item, Outcome, Shipment
from ecscreen.packs.registry import load_registry
from ecscreen.runners.batch import RawRow, RowOutcome, Writer

ROOT = Path(__file__).resolve().parents[1]
PACKS = [ROOT / "rules/us-ear/country-groups.yaml", ROOT / "rules/us-ear/jurisdiction.yaml",
         ROOT / "rules/us-ear/itar.yaml"]


@pytest.fixture(scope="module")
def reg():
    return load_registry(PACKS)


def _both(reg: Any, item: dict[str, Any], exporter: str | None = "US", dest: str = "CN",
          on: dt.date = dt.date(2026, 11, 1)) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    base = {"description": "Test item", "origin": "US"}
    base.update(item)
    sh = Shipment(destination=dest, items=[Item(**base)], exporter_country=exporter)
    it = sh.items[0]
    jr = J.assess(it, 0, sh, resolve(dest), [], reg, on)
    parts = J.assess_parts(it, 0, sh, resolve(dest), [], reg, on)
    return (jr.status, jr.summary, list(jr.steps), list(jr.findings)), parts


@pytest.mark.parametrize("item,exporter", [
    ({"origin": "US"}, "US"),
    ({"origin": "US"}, "DE"),
    ({"origin": "DE", "us_content_percent": 5.0, "direct_product_of": [], "plant_direct_product_of": []}, "DE"),
    ({"origin": None}, "US"),
    ({"origin": "US", "description": "USML Category XI(a) radar"}, "US"),
    ({"origin": "TW", "us_content_percent": 40.0, "eccn": "3A090.a", "direct_product_of": [],
      "plant_direct_product_of": []}, "TW"),
])
def test_assess_parts_equals_assess(reg, item, exporter):
    for _ in range(2):  # the second call is answered from the memo of the first
        ref, parts = _both(reg, item, exporter)
        assert parts == ref


def test_assess_parts_memo_keyed_on_origin_exporter_and_date(reg):
    us = _both(reg, {"origin": "US"}, "US")[1]
    assert us[0] == "subject"
    # another origin, another exporter country, another date: each is decided for its own facts
    other = _both(reg, {"origin": "DE", "us_content_percent": 0.0, "direct_product_of": [],
                        "plant_direct_product_of": []}, "DE")
    assert other[1] == other[0] and other[1][0] != "subject"
    later = _both(reg, {"origin": "US"}, "US", on=dt.date(2026, 11, 2))
    assert later[1] == later[0]
    itar = _both(reg, {"origin": "US", "description": "USML Category XI(a) radar"}, "US")
    assert itar[1] == itar[0] and itar[1] != us  # the ITAR step is not skipped by the U.S.-origin memo


def test_parts_lists_are_the_callers_own(reg):
    _, parts = _both(reg, {"origin": "US"}, "US")
    parts[2].append("x")  # a caller extending its steps changes no later answer
    assert _both(reg, {"origin": "US"}, "US")[1][2] != parts[2]


# --------------------------------------------------------------------------- CSV writer plain-ASCII path

_STARTS = ["=", "+", "-", "@", "\t", "\r", "\n", " ", "\x0b", "\x0c", ",", '"', "\x00", "a", "\u00a0", "\u3000", ""]


def _render(rows: list[tuple[RawRow, RowOutcome]], fast: bool) -> str:
    out = io.StringIO()
    w = Writer(out, "csv", ["a", "b", "c"])
    if not fast:
        w._fast_text = lambda raw, o: None  # type: ignore[method-assign]  # the reference: csv.writer per row
    for raw, o in rows:
        w.write(raw, o)
    return out.getvalue()


def test_plain_ascii_fast_path_equals_csv_module():
    o = RowOutcome(decision="clear")
    rows = []
    for n, (x, y) in enumerate(itertools.product(_STARTS, repeat=2)):
        for cells in ([x + "1", "b", y], ["a", x, "c" + y], [x, y + "z", "-5"], ["2026-11-01", "SO-1", x + y]):
            rows.append((RawRow(line=n + 2, values=list(cells)), o))
    rows.append((RawRow(line=1, values=["a", "b"]), o))  # fewer cells than the header: the slow path
    assert _render(rows, True) == _render(rows, False)


# --------------------------------------------------------------------------- models copied without validation


def test_replaced_equals_model_copy_and_falls_back():
    f = Finding(rule_id="R", pack_id="p", outcome=Outcome.review, title="t", message="m", item_index=3,
                evidence=[Evidence(field="items[3].eccn", value="3A090")])
    for _ in range(2):  # before and after the class's field names are kept
        a, b = f.model_copy(update={"item_index": 1, "message": "n"}), replaced(f, {"item_index": 1, "message": "n"})
        assert a == b and a.model_fields_set == b.model_fields_set and a.model_dump_json() == b.model_dump_json()
    assert f.item_index == 3
    # a key that is not a field: model_copy decides (never set blindly)
    assert replaced(f, {"nonsense": 1}).model_dump() == f.model_copy(update={"nonsense": 1}).model_dump()


def test_chart_template_line_copies_leave_the_template_alone():
    f = Finding(rule_id="CHART", pack_id="chart", outcome=Outcome.license_required, title="t",
                message=f"item {chartmemo.SENTINEL}: licence required", item_index=chartmemo.SENTINEL,
                evidence=[Evidence(field=f"items[{chartmemo.SENTINEL}].eccn", value="3A090")])
    t = chartmemo.Template([f], [], [])
    for i in (5, 6, 7):  # beyond the kept lines: written afresh each time
        got = t.for_line(i).findings[0]
        assert got.item_index == i and got.evidence[0].field == f"items[{i}].eccn"
        assert got.model_fields_set == f.model_fields_set | {"item_index", "message", "evidence"} or \
            got.model_fields_set >= {"item_index"}
    assert t.findings[0].item_index == chartmemo.SENTINEL
    assert t.findings[0].evidence[0].field == f"items[{chartmemo.SENTINEL}].eccn"


# --------------------------------------------------------------------------- shipment-level memo: names

NAMES = """\
pack: {id: n, version: "1", jurisdiction: US-EAR, title: N}
lists:
  watch: {type: names, members: [Acme Rocket Works]}
rules:
  - id: N-WATCH
    title: watched party
    outcome: prohibited
    when: {party_name_in: {list: watch, min_score: 90}}
    message: "party {parties}"
    citations: [{ref: "15 CFR 744.11"}]
    effective_from: 2000-01-01
  - id: N-NO-END-USER
    title: no end user
    outcome: review
    when: {fact_missing: end_user}
    message: "no end user"
    citations: [{ref: "15 CFR 732"}]
    effective_from: 2000-01-01
"""


def test_ship_memo_shares_names_no_list_can_match_and_keeps_the_others(tmp_path):
    """A party name the pack's names lists cannot match is one fact whatever the name (the memo of rules known
    False serves new customers); a name a list may match is keyed on itself, and the role stays in the key."""
    import textwrap

    from conftest import ship
    from ecscreen.engine.core import Engine

    (tmp_path / "n.yaml").write_text(textwrap.dedent(NAMES))
    reg = load_registry([tmp_path])
    fast = Engine.build(reg, use_lists=False, today=dt.date(2024, 7, 1))
    plain = Engine.build(reg, use_lists=False, today=dt.date(2024, 7, 1))
    plain.memo = False
    (cp,) = fast.compiled
    items = [{"description": "Widget", "eccn": "EAR99", "origin": "US"}]

    def both(name: str, role: str = "end_user") -> set[str]:
        sh = ship("DE", "2024-06-01", parties=[{"role": role, "name": name}], items=items)
        a, b = fast.screen_one(sh), plain.screen_one(sh)
        assert a.model_dump_json() == b.model_dump_json()
        return {f.rule_id for f in a.findings} - {"PARTIES-NOT-SCREENED"}  # (no lists loaded here)

    assert both("Initech Office Supplies") == set()
    assert both("Globex Corporation") == set()  # another name no list can match: the same memo entry
    assert len(cp._ship_false) == 1
    assert both("ACME Rocket Works Ltd") == {"N-WATCH"}  # a changed fact (a listed name) changes the result
    assert both("Acme Rocket Work") == {"N-WATCH"}
    assert both("Initech Office Supplies", role="consignee") == {"N-NO-END-USER"}  # the role is read
    assert both("Initech Office Supplies") == set()


def test_party_codes_memo_keyed_on_role_country_and_date():
    """The parties' (role, country codes) are memoised per (role, country as written, date); a changed fact
    changes them, and an unknown country is an input error naming its party every time."""
    from conftest import ship
    from ecscreen.engine.core import Engine

    eng = Engine.build(load_registry(), use_lists=False, today=dt.date(2026, 10, 1))
    on = dt.date(2026, 10, 1)

    def codes(role: str, country: str | None, idx: int = 0) -> tuple[Any, ...]:
        parties = [{"role": "purchaser", "name": f"P{k}", "country": "DE"} for k in range(idx)]
        parties.append({"role": role, "name": "X", "country": country})
        sh = ship("DE", "2026-10-01", parties=parties)
        errors: list[Any] = []
        got = eng._inputs(sh, on)
        errors = got[4]
        return got[3][idx], [e.field for e in errors]

    de = codes("end_user", "DE")
    assert de[0][0] == "end_user" and "DE" in de[0][1] and de[1] == []
    assert codes("end_user", "DE") == de  # from the memo
    assert codes("consignee", "DE")[0][0] == "consignee"
    fr = codes("end_user", "FR")
    assert "FR" in fr[0][1] and "DE" not in fr[0][1]
    assert codes("end_user", None)[0] == ("end_user", frozenset())
    assert codes("end_user", "Atlantis")[1] == ["parties[0].country"]
    assert codes("end_user", "Atlantis", idx=2)[1] == ["parties[2].country"]  # not served from a memo


def test_batch_run_restores_the_gc_state():
    """A run raises the young generation's threshold and freezes what was alive before it: after it, nothing
    is frozen and the thresholds are the caller's again."""
    import gc

    from ecscreen.engine.core import Engine
    from ecscreen.runners import batch as B

    data = ("order_id,date,destination,description,eccn,origin,end_user,end_user_country\n"
            + "".join(f"SO-{i},2026-09-01,DE,Widget {i % 7},EAR99,US,Acme {i % 13},DE\n" for i in range(60)))
    eng = Engine.build(load_registry(), use_lists=False, today=dt.date(2026, 10, 1))
    before = gc.get_threshold(), gc.isenabled()
    old = B.CHUNK
    B.CHUNK = 7  # several chunks
    try:
        out = io.StringIO()
        B.run_batch(io.BytesIO(data.encode()), out, eng)
    finally:
        B.CHUNK = old
    assert out.getvalue().count("\n") == 61
    # (the run unfreezes everything after it: what was old is in the oldest generation then)
    assert (gc.get_threshold(), gc.isenabled()) == before and gc.get_freeze_count() == 0


def test_party_memo_shipment_memo_serves_other_dates_with_their_lists():
    """Without clearances a party's screening does not depend on the date: the same parties on another date
    get the memoised screening with that date's list infos (the lists' age); with clearances (dated) the
    date stays in the key."""
    from ecscreen.model import ListInfo, Party, PartyRole, PartyScreeningSummary
    from ecscreen.parties.screening import PartyScreening, screen_parties
    from ecscreen.runners import batch

    calls: list[str] = []

    def screen(parties, *, as_of, **kw):
        calls.extend(p.name for p in parties)
        return PartyScreening(
            hits=[[] for _ in parties], findings=[], warnings=[],
            lists=[ListInfo(name="L", source="s", date=dt.date(2026, 9, 1), age_days=(as_of - dt.date(2026, 9, 1)).days)],
            summaries=[PartyScreeningSummary(party_index=i, name=p.name, lists=["L"], summary="no match")
                       for i, p in enumerate(parties)])

    memo = batch.PartyMemo(screen_parties, batch=True, lists=[])
    assert memo.batch is not None and not memo.dated
    memo.screen = screen
    ps = [Party(role=PartyRole.end_user, name="Acme", country="DE"),
          Party(role=PartyRole.purchaser, name="Initech", country="DE")]
    d1, d2 = dt.date(2026, 10, 1), dt.date(2026, 10, 5)
    first = memo(ps, as_of=d1)
    assert memo(list(ps), as_of=d1) is first
    other_day = memo(list(ps), as_of=d2)
    assert calls == ["Acme", "Initech"]  # not screened again
    assert [i.age_days for i in other_day.lists] == [34] and [i.age_days for i in first.lists] == [30]
    assert other_day.summaries == first.summaries and other_day.hits == first.hits
    assert (memo.hits, memo.misses) == (4, 2)
    assert len(memo._ships) == 1  # one entry serves both dates (per date before: 4 % of 1M ERP orders hit)
    assert memo(list(ps), as_of=d1).lists == first.lists  # back to the first date: its own infos again
    # a changed party is screened for itself
    got = memo([ps[0], Party(role=PartyRole.purchaser, name="Globex", country="DE")], as_of=d2)
    assert calls[-1] == "Globex" and [s.name for s in got.summaries] == ["Acme", "Globex"]


def test_batch_run_does_not_freeze_after_every_chunk(monkeypatch):
    """Regression (stop 25): freezing after every chunk kept the cyclic garbage made after each freeze until
    the end of the run (+48 MB peak RSS at 1M rows, no faster). The frozen count stays what it was when the
    run began (or falls), so a cycle made while screening can still be collected during the run."""
    import gc

    from ecscreen.engine.core import Engine
    from ecscreen.runners import batch as B

    data = ("order_id,date,destination,description,eccn,origin,end_user,end_user_country\n"
            + "".join(f"SO-{i},2026-09-01,DE,Widget {i},EAR99,US,Acme {i},DE\n" for i in range(60)))
    eng = Engine.build(load_registry(), use_lists=False, today=dt.date(2026, 10, 1))
    seen: list[int] = []
    real = B.BatchScreener.screen_orders

    def spy(self, chunk, memo):
        seen.append(gc.get_freeze_count())
        return real(self, chunk, memo)

    monkeypatch.setattr(B.BatchScreener, "screen_orders", spy)
    monkeypatch.setattr(B, "CHUNK", 7)
    B.run_batch(io.BytesIO(data.encode()), io.StringIO(), eng)
    # (the first chunk may load lazy tables, which are frozen once; frozen objects freed by reference
    # counting leave the count: from then on it may fall, never grow)
    assert len(seen) >= 5 and max(seen[2:]) <= seen[1], seen
