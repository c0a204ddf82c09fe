"""Engine semantics: ECCN hierarchy, negation, thresholds, dates, fail-closed, three-valued logic."""

import datetime as dt
import textwrap

import pytest

from conftest import ship
from ecscreen.engine.core import Engine, eccn_matches
from ecscreen.model import Outcome
from ecscreen.packs.registry import load_registry

PACK = """\
pack: {id: t, version: "1", jurisdiction: US-EAR, title: T}
lists:
  mil: {type: phrases, members: [military, armed forces, 军民融合]}
  sme: {type: eccns, members: [3B001, 3B002.c]}
  watch: {type: names, members: [Acme Rocket Works]}
rules:
  - id: T-ECCN
    title: SME to D:5
    outcome: license_required
    when: {all: [{destination_in: ["group:D:5", MO]}, {eccn_in: ["list:sme"]}]}
    message: "{eccn} to {destination}"
    citations: [{ref: "15 CFR 742.4"}]
    effective_from: 2023-11-17
  - id: T-MIL
    title: military end use
    outcome: review
    when: {end_use_has: {phrases: ["list:mil"], if_missing: false, reason: "test: applies on knowledge only"}}
    message: "end use {end_use}: {matched}"
    citations: [{ref: "15 CFR 744.21"}]
    effective_from: 2020-06-29
  - id: T-TPP
    title: TPP threshold
    outcome: license_required
    when: {all: [{destination_in: [CN]}, {param: {name: tpp, gte: 4800}}, {description_has: [GPU]}]}
    message: "TPP {param.tpp}"
    citations: [{ref: "15 CFR 742.6"}]
    effective_from: 2023-11-17
    effective_to: 2025-01-01
  - id: T-PARTY
    title: watched party
    outcome: prohibited
    when: {party_name_in: {list: watch, min_score: 85}}
    message: "party {parties}"
    citations: [{ref: "15 CFR 744.11"}]
    effective_from: 2000-01-01
  - id: T-NOT
    title: not allied origin
    outcome: review
    subject_to_ear_only: false
    when: {all: [{description_has: [lithography]}, {not: {origin_in: ["group:A:5"]}}]}
    message: "origin {origin}"
    citations: [{ref: "15 CFR 734.3"}]
    effective_from: 2000-01-01
"""


@pytest.fixture(scope="module")
def eng(tmp_path_factory):
    d = tmp_path_factory.mktemp("packs")
    (d / "t.yaml").write_text(textwrap.dedent(PACK))
    return Engine.build(load_registry([d]), use_lists=False, today=dt.date.today())


def fired(res):
    return {f.rule_id: f for f in res.findings}


@pytest.mark.parametrize(
    "item,pattern,expect",
    [("3B001.f.1", "3B001", True), ("3B001", "3B001", True), ("3B001", "3B001.f", None),
     ("3B0011", "3B001", False), ("3B002.c", "3B002.c", True), ("3B002.b", "3B002.c", False),
     ("3A090.a.1", "3A090.a", True), ("3A090.b", "3A090.a", False)],
)
def test_eccn_hierarchy(item, pattern, expect):
    assert eccn_matches(item, pattern) is expect


def test_eccn_child_matches(eng):
    r = eng.screen_one(ship("CN", items=[{"description": "etch tool", "eccn": "3b001.F.1", "origin": "US"}]))
    f = fired(r)["T-ECCN"]
    assert f.outcome == Outcome.license_required and "3B001.f.1 to CN" in f.message
    assert f.evidence[-1].matched == "3B001"


def test_eccn_less_specific_is_review(eng):
    r = eng.screen_one(ship("CN", items=[{"description": "tool", "eccn": "3B002", "origin": "US"}]))
    f = fired(r)["T-ECCN"]
    assert f.outcome == Outcome.review and "paragraph" in f.message


def test_ear99_and_sibling_do_not_match(eng):
    for e in ("EAR99", "3B002.b", "3B003"):
        r = eng.screen_one(ship("CN", items=[{"description": "tool", "eccn": e, "origin": "US"}]))
        assert "T-ECCN" not in fired(r)


def test_destination_groups_and_macau(eng):
    assert "T-ECCN" in fired(eng.screen_one(ship("MO", items=[{"description": "x", "eccn": "3B001.a", "origin": "US"}])))
    assert "T-ECCN" in fired(eng.screen_one(ship("Hong Kong", items=[{"description": "x", "eccn": "3B001.a",
                                                                      "origin": "US"}])))
    assert "T-ECCN" not in fired(eng.screen_one(ship("DE", items=[{"description": "x", "eccn": "3B001.a",
                                                                   "origin": "US"}])))


def test_effective_dates(eng):
    item = [{"description": "x", "eccn": "3B001.a", "origin": "US"}]
    assert "T-ECCN" not in fired(eng.screen_one(ship("CN", date="2023-11-16", items=item)))
    assert "T-ECCN" in fired(eng.screen_one(ship("CN", date="2023-11-17", items=item)))
    gpu = [{"description": "GPU", "origin": "US", "parameters": {"tpp": 5000}}]
    assert "T-TPP" in fired(eng.screen_one(ship("CN", date="2024-12-31", items=gpu)))
    assert "T-TPP" not in fired(eng.screen_one(ship("CN", date="2025-01-01", items=gpu)))  # effective_to exclusive


def test_as_of_overrides_shipment_date(eng):
    item = [{"description": "x", "eccn": "3B001.a", "origin": "US"}]
    import datetime as dt

    r = eng.screen_one(ship("CN", date="2024-06-01", items=item), as_of=dt.date(2022, 1, 1))
    assert "T-ECCN" not in fired(r) and r.as_of == dt.date(2022, 1, 1)


@pytest.mark.parametrize(
    "end_use,hit",
    [("for military aircraft", True), ("not for military use", False), ("civil only, no armed forces", False),
     ("支持军民融合", True), (None, False)],
)
def test_negation_aware_end_use(eng, end_use, hit):
    r = eng.screen_one(ship("DE", end_use=end_use))
    assert ("T-MIL" in fired(r)) is hit


def test_parameter_thresholds(eng):
    def run(params):
        return fired(eng.screen_one(ship("CN", items=[{"description": "GPU", "origin": "US", "parameters": params}])))

    assert run({"tpp": 4800})["T-TPP"].outcome == Outcome.license_required
    assert "T-TPP" not in run({"tpp": 4799.9})
    missing = run({})["T-TPP"]  # if_missing: unknown -> review naming the fact
    assert missing.outcome == Outcome.review and "items[0].parameters.tpp" in missing.message


def test_party_name_fuzzy(eng):
    r = eng.screen_one(ship("DE", parties=[{"role": "end_user", "name": "ACME Rocket Works Ltd"}]))
    f = fired(r)["T-PARTY"]
    assert f.outcome == Outcome.prohibited and f.evidence[0].score and f.evidence[0].score >= 85
    assert f.evidence[0].matched == "Acme Rocket Works"
    r2 = eng.screen_one(ship("DE", parties=[{"role": "end_user", "name": "Globex Trading"}]))
    assert "T-PARTY" not in fired(r2)


def test_not_and_unknown_origin(eng):
    r = eng.screen_one(ship("DE", items=[{"description": "lithography stage", "origin": "CN"}]))
    assert fired(r)["T-NOT"].outcome == Outcome.review
    r = eng.screen_one(ship("DE", items=[{"description": "lithography stage", "origin": "JP"}]))
    assert "T-NOT" not in fired(r)
    r = eng.screen_one(ship("DE", items=[{"description": "lithography stage"}]))
    f = fired(r)["T-NOT"]
    assert f.outcome == Outcome.review and "items[0].origin" in f.message


@pytest.mark.parametrize("dest", ["Atlantis", "ZZ", "XXX", "Chin"])
def test_unknown_country_never_clear(eng, dest):
    r = eng.screen_one(ship(dest))
    assert r.decision == "error" and r.errors[0].field == "destination"


def test_unknown_party_or_origin_country_is_error(eng):
    r = eng.screen_one(ship("DE", parties=[{"name": "X", "country": "Nowhere"}]))
    assert r.decision == "error" and r.errors[0].field == "parties[0].country"
    r = eng.screen_one(ship("DE", items=[{"description": "x", "origin": "Elbonia"}]))
    assert r.decision == "error" and r.errors[0].field == "items[0].origin"


def test_malformed_eccn_is_error(eng):
    r = eng.screen_one(ship("DE", items=[{"description": "x", "eccn": "3X999"}]))
    assert r.decision == "error" and r.errors[0].field == "items[0].eccn"


def test_clear_when_nothing_fires(eng):
    r = eng.screen_one(ship("DE", items=[{"description": "bolt", "eccn": "EAR99", "origin": "US"}]))
    assert r.decision == Outcome.clear and r.findings == []


def test_report_names_packs_with_hashes(eng):
    rep = eng.screen([("a", ship("DE"))])
    assert rep.packs and all(len(p.sha256) == 64 and p.version for p in rep.packs)
    assert rep.exit_code == 0


def test_deterministic(eng):
    s = ship("CN", items=[{"description": "GPU", "origin": "US", "parameters": {"tpp": 5000}}])
    a = eng.screen([("a", s)]).model_dump_json()
    b = eng.screen([("a", s)]).model_dump_json()
    assert a == b


def test_shipped_3a090a_rule(engine):
    gpu = {"description": "Data-center GPU accelerator", "origin": "US", "parameters": {"tpp": 5200}}
    assert "AC-3A090A-2023" in fired(engine.screen_one(ship("CN", date="2024-06-01", items=[gpu])))
    assert "AC-3A090A-2023" in fired(engine.screen_one(ship("MO", date="2024-06-01", items=[gpu])))
    assert "AC-3A090A-2023" in fired(engine.screen_one(ship("VN", date="2024-06-01", items=[gpu])))  # D:1
    assert "AC-3A090A-2023" not in fired(engine.screen_one(ship("IL", date="2024-06-01", items=[gpu])))  # D:4 but A:6
    assert "AC-3A090A-2023" not in fired(engine.screen_one(ship("CN", date="2023-11-16", items=[gpu])))
    pd = {"description": "accelerator", "origin": "US", "parameters": {"tpp": 1700, "performance_density": 6.0}}
    assert "AC-3A090A-2023" in fired(engine.screen_one(ship("CN", date="2024-06-01", items=[pd])))


def test_shipped_embargoes(engine):
    assert engine.screen_one(ship("Iran")).decision == Outcome.prohibited
    assert engine.screen_one(ship("Cuba")).decision == Outcome.license_required
    crimea = engine.screen_one(ship("UA", destination_region="Crimea"))
    assert "EMB-CRIMEA" in fired(crimea)
    assert "EMB-DNR-LNR" not in fired(engine.screen_one(ship("UA-14", date="2022-01-01")))
    assert "EMB-DNR-LNR" in fired(engine.screen_one(ship("UA-14", date="2022-03-01")))
    kyiv = engine.screen_one(ship("UA"))
    assert not {"EMB-CRIMEA", "EMB-DNR-LNR"} & set(fired(kyiv))
