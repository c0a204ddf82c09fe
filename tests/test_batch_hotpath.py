"""Issue 14 (per-row engine cost): the memos and fast paths of the batch hot path are exact.

- shipment-level rules known False for the facts they read are skipped (``CompiledPack.ship_key``): the key
  is derived from the compiled conditions (``ship_reads``), and a memo hit gives the same result as a fresh
  screen (``memo=False``), across destinations, end uses, party names, exporters, party countries, dates on
  both sides of a rule's start and policies;
- the CSV writer's fast path (each distinct outcome's cells rendered once) writes the text ``csv.writer``
  writes, cell for cell, including quotes, commas, LFs, formula guards, CRs and undecodable bytes;
- the batch's Items of one product share a validated base: a line's own origin, SKU and US content are its own.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import random
import textwrap

import pytest

from conftest import ship
from ecscreen.domain import policy as _policy
from ecscreen.engine.core import Engine, ship_reads
from ecscreen.packs.registry import Cond, load_registry
from ecscreen.runners import batch
from ecscreen.runners.batch import BatchOptions, BatchScreener, RawRow, RowOutcome, Writer, run_batch

PACK = """\
pack: {id: s, version: "1", jurisdiction: US-EAR, title: S}
lists:
  watch: {type: names, members: [Acme Rocket Works, Globex Munitions]}
rules:
  - id: S-WMD
    title: nuclear end use outside group A:1
    outcome: license_required
    when: {all: [{not_: {destination_in: [group:A:1]}}, {end_use_has: [nuclear explosive]}]}
    message: "{end_use} to {destination} on {as_of}"
    citations: [{ref: "15 CFR 744.2"}]
    effective_from: 2000-01-01
  - id: S-WATCH
    title: watched party
    outcome: prohibited
    when: {any: [{party_name_in: {list: watch, min_score: 90}}, {party_hit: {sources: [EL]}}]}
    message: "party {parties}"
    citations: [{ref: "15 CFR 744.11"}]
    effective_from: 2000-01-01
  - id: S-EXPORTER
    title: reexport from China
    outcome: review
    when: {all: [{exporter_in: [CN]}, {destination_in: [RU]}]}
    message: "from {exporter}"
    citations: [{ref: "15 CFR 734.3"}]
    effective_from: 2024-06-02
  - id: S-PARTY-COUNTRY
    title: consignee in Russia
    outcome: review
    when: {party_country_in: {countries: [RU], roles: [consignee]}}
    message: "consignee in Russia"
    citations: [{ref: "15 CFR 746.8"}]
    effective_from: 2000-01-01
  - id: S-NO-END-USE
    title: end use not stated
    outcome: review
    when: {all: [{destination_in: [RU, CN]}, {fact_missing: end_use}]}
    message: "no end use"
    citations: [{ref: "15 CFR 744.6"}]
    effective_from: 2000-01-01
  - id: S-POLICY
    title: policy reading
    outcome: review
    when: {all: [{policy: cfr-text}, {destination_in: [CN]}]}
    message: "cfr reading"
    citations: [{ref: "15 CFR 744.21"}]
    effective_from: 2000-01-01
"""


@pytest.fixture()
def packs(tmp_path):
    (tmp_path / "s.yaml").write_text(textwrap.dedent(PACK))
    return load_registry([tmp_path])


def _shipments():
    out = []
    parties = [[{"role": "end_user", "name": "Initech Office Supplies"}],
               [{"role": "end_user", "name": "ACME Rocket Works Ltd"}],
               [{"role": "end_user", "name": "Initech Office Supplies"},
                {"role": "consignee", "name": "Initech Office Supplies", "country": "RU"}],
               [{"role": "consignee", "name": "Globex Munitions", "country": "DE"}],
               []]
    for dest in ("DE", "CN", "RU"):
        for date in ("2024-06-01", "2024-06-02", "2024-07-01"):
            for p in parties:
                for end_use in (None, "research", "nuclear explosive device"):
                    for exporter in (None, "CN"):
                        kw = {"parties": p, "end_use": end_use}
                        if exporter:
                            kw["exporter_country"] = exporter
                        out.append(ship(dest, date, **kw))
    return out


@pytest.mark.parametrize("policy", ["enforced", "cfr-text"])
def test_ship_memo_hit_equals_fresh_screen(packs, policy):
    fast = Engine.build(packs, use_lists=False, today=dt.date(2024, 7, 1), policy=policy)
    plain = Engine.build(packs, use_lists=False, today=dt.date(2024, 7, 1), policy=policy)
    plain.memo = False
    shipments = _shipments()
    fired = set()
    for sh in shipments + shipments:  # the second pass is served from the memo where every rule was False
        a = fast.screen_one(sh)
        assert a.model_dump_json() == plain.screen_one(sh).model_dump_json()
        fired |= {f.rule_id for f in a.findings}
    (cp,) = fast.compiled
    assert cp.ship_reads == {"dest", "end_use", "parties", "party_hits", "exporter", "party_codes", "policy"}
    assert cp._ship_false  # the memo was used
    # every rule fired somewhere: the memo never hid a rule that fires for other facts
    want = {"S-WMD", "S-WATCH", "S-EXPORTER", "S-PARTY-COUNTRY", "S-NO-END-USE"} | ({"S-POLICY"} if policy == "cfr-text"
                                                                                   else set())
    assert want <= fired


def test_ship_memo_not_used_with_party_hits(packs):
    eng = Engine.build(packs, use_lists=False, today=dt.date(2024, 7, 1))
    (cp,) = eng.compiled
    from ecscreen.engine.core import PartyFactLite, ShipCtx

    sh = ship("DE", "2024-06-01")
    base = dict(shipment=sh, dest=None, dest_codes=frozenset({"DE"}), exporter_codes=frozenset({"US"}),
                as_of=dt.date(2024, 6, 1), party_codes=[])
    assert cp.ship_key(ShipCtx(**base, party_hits=[])) is not None
    hit = PartyFactLite(party_index=0, role="end_user", name="X", list_code="EL", entry_name="X", footnotes=[],
                        score=100.0)
    assert cp.ship_key(ShipCtx(**base, party_hits=[hit])) is None


def test_ship_reads_derived_from_conditions():
    assert ship_reads(Cond.model_validate({"end_use_has": ["x"]})) == {"end_use"}
    assert ship_reads(Cond.model_validate({"all": [{"destination_in": ["CN"]},
                                                   {"not_": {"exporter_in": ["US"]}}]})) == {"dest", "exporter"}
    assert ship_reads(Cond.model_validate({"fact_missing": "end_user"})) == {"parties"}
    # a condition on an item fact, or one this derivation does not know: nothing is memoised
    assert ship_reads(Cond.model_validate({"eccn_in": ["3A090"]})) is None
    assert ship_reads(Cond.model_validate({"any": [{"end_use_has": ["x"]}, {"fact_missing": "eccn"}]})) is None


def test_policy_is_in_the_ship_key(packs):
    eng = Engine.build(packs, use_lists=False, today=dt.date(2024, 7, 1))
    sh = ship("CN", "2024-06-01", end_use="research")
    assert "S-POLICY" not in {f.rule_id for f in eng.screen_one(sh).findings}
    eng.policy = "cfr-text"  # the same facts under another reading: not served from the memo of the first
    try:
        assert "S-POLICY" in {f.rule_id for f in eng.screen_one(sh).findings}
    finally:
        _policy.set_current("enforced")


# --------------------------------------------------------------------------- CSV writer fast path

_CHARS = ["a", "Z", ",", '"', "\n", " ", "=", "+", "-", "@", "\t", "'", ";", "é", "\x00", "\udcff", "|", ""]


def _slow(header, rows):
    out = io.StringIO()
    w = Writer(out, "csv", header)
    w._fast_text = lambda raw, o: None  # type: ignore[method-assign]  # the reference: csv.writer per row
    for raw, o in rows:
        w.write(raw, o)
    return out.getvalue()


def _fast(header, rows):
    out = io.StringIO()
    w = Writer(out, "csv", header)
    for raw, o in rows:
        w.write(raw, o)
    rendered = "".join(Writer(io.StringIO(), "csv", header).render(raw, o) for raw, o in rows)
    return out.getvalue(), rendered


def test_csv_fast_writer_equals_csv_module():
    rnd = random.Random(7)

    def cell():
        return "".join(rnd.choice(_CHARS) for _ in range(rnd.randint(0, 4)))

    header = ["a", "b", "c"]
    outcomes = [RowOutcome(decision="clear", screened=[{"name": "Acme, Inc.", "summary": 'no "match"'}]),
                RowOutcome(decision="review", rule_ids="R1;R2", reasons="x,\ny", list_hits="=1", message="@m")]
    rows = []
    for i in range(3000):
        o = rnd.choice(outcomes) if i % 3 else RowOutcome(decision="clear", reasons=cell(), message=cell())
        ncells = 3 if i % 50 else rnd.choice([2, 4])
        rows.append((RawRow(line=i + 2, values=[cell() for _ in range(ncells)]), o))
    rows.append((RawRow(line=1, values=["a\rb", "c", "d"]), outcomes[0]))  # a CR: the csv_line path
    rows.append((RawRow(line=1, values=["a", "b", "c"]), RowOutcome(decision="clear", message="x\ry")))
    fast, rendered = _fast(header, rows)
    slow = _slow(header, rows)
    assert fast == slow
    assert rendered == slow.split("\n", 1)[1]  # what --jobs workers send: the rows without the header
    # and the reference is what the csv module writes for plain rows
    plain = [(RawRow(line=2, values=["Acme, Inc.", 'say "hi"', "x\ny"]), outcomes[0])]
    ref = io.StringIO()
    csv.writer(ref, lineterminator="\n").writerow(header + list(batch.OUT_COLUMNS))
    csv.writer(ref, lineterminator="\n").writerow(["Acme, Inc.", 'say "hi"', "x\ny", "clear", "", "", "", "",
                                                   'Acme, Inc.: no "match"'])
    assert _fast(header, plain)[0] == ref.getvalue()


def test_batch_items_keep_their_own_line_facts():
    eng = Engine.build(load_registry(), use_lists=False, today=dt.date(2026, 10, 1))
    scr = BatchScreener(eng, BatchOptions())
    a = scr._item(("Widget", "EAR99", "US", (), 30.0, None, 5.0, 10.0, "SKU-1", None, None, None))
    b = scr._item(("Widget", "EAR99", "DE", (), None, None, 2.0, 3.5, "SKU-2", None, None, None))
    assert (a.origin, a.us_content_percent, a.sku, a.quantity, a.value_usd) == ("US", 30.0, "SKU-1", 5.0, 10.0)
    assert (b.origin, b.us_content_percent, b.sku, b.quantity, b.value_usd) == ("DE", None, "SKU-2", 2.0, 3.5)
    from ecscreen.model import Item

    for it, ref in ((a, Item(description="Widget", eccn="EAR99", origin="US", us_content_percent=30.0, quantity=5.0,
                             value_usd=10.0, sku="SKU-1")),
                    (b, Item(description="Widget", eccn="EAR99", origin="DE", quantity=2.0, value_usd=3.5,
                             sku="SKU-2"))):
        assert it.model_dump() == ref.model_dump()
    assert len(scr._item_objs) == 1  # one validated base for the product


def test_batch_output_same_with_and_without_fast_writer(monkeypatch):
    data = (b"order_id,date,destination,description,eccn,origin,end_user,end_user_country,end_use,quantity,value_usd\n"
            b'A1,2026-09-01,CN,"Etch chamber, 300 mm",3B001.c,US,"Acme, Inc.",CN,=cmd,1,10\n'
            b"A1,2026-09-01,CN,Widget,EAR99,US,\"Acme, Inc.\",CN,=cmd,2,5\n"
            b"A2,2026-09-02,DE,Widget,EAR99,DE,Initech,DE,research,3,7\n")
    eng = Engine.build(load_registry(), use_lists=False, today=dt.date(2026, 10, 1))
    fast = io.StringIO()
    run_batch(io.BytesIO(data), fast, eng)
    monkeypatch.setattr(Writer, "_fast_text", lambda self, raw, o: None)
    slow = io.StringIO()
    run_batch(io.BytesIO(data), slow, Engine.build(load_registry(), use_lists=False, today=dt.date(2026, 10, 1)))
    assert fast.getvalue() == slow.getvalue() and "'=cmd" in fast.getvalue()


NAMES_ONLY = """\
pack: {id: n, version: "1", jurisdiction: US-EAR, title: N}
lists:
  watch: {type: names, members: [Acme Rocket Works]}
  sme: {type: eccns, members: [3B001]}
rules:
  - id: N-WATCH
    title: watched party
    outcome: prohibited
    when: {party_name_in: {list: watch, min_score: 90}}
    message: "party {parties}"
    citations: [{ref: "15 CFR 744.11"}]
    effective_from: 2000-01-01
  - id: N-SME
    title: SME to China
    outcome: license_required
    when: {all: [{destination_in: [CN]}, {eccn_in: ["list:sme"]}]}
    message: "{eccn} to {destination}"
    citations: [{ref: "15 CFR 742.4"}]
    effective_from: 2000-01-01
"""


def test_ship_key_leaves_out_facts_no_shipment_rule_reads(tmp_path):
    (tmp_path / "n.yaml").write_text(textwrap.dedent(NAMES_ONLY))
    reg = load_registry([tmp_path])
    fast = Engine.build(reg, use_lists=False, today=dt.date(2024, 7, 1))
    plain = Engine.build(reg, use_lists=False, today=dt.date(2024, 7, 1))
    plain.memo = False
    (cp,) = fast.compiled
    assert cp.ship_reads == {"parties"}  # the item rule's destination is not a shipment-level read
    items = [{"description": "Etch chamber", "eccn": "3B001.c", "origin": "US"}]
    for dest in ("DE", "CN", "DE", "CN"):
        for name in ("Initech Office Supplies", "ACME Rocket Works Ltd"):
            sh = ship(dest, "2024-06-01", parties=[{"role": "end_user", "name": name}], items=items)
            assert fast.screen_one(sh).model_dump_json() == plain.screen_one(sh).model_dump_json()
    assert len(cp._ship_false) == 1  # Initech's key serves both destinations
