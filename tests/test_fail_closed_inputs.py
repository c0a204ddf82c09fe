"""Issue 12 (shipment inputs and packs fail closed): one named regression test per defect."""

from __future__ import annotations

import datetime as dt
import json
import textwrap
from pathlib import Path

import pytest
from pydantic import ValidationError

from ecscreen.cli.main import main
from ecscreen.domain.countries import resolve
from ecscreen.engine.core import Engine
from ecscreen.errors import PackError
from ecscreen.model import Outcome, Shipment
from ecscreen.packs.registry import _walk, load_registry

ROOT = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------- 8. unreadable pack files


def test_binary_file_in_rules_dir_is_pack_error_naming_it(tmp_path, capsys):
    (tmp_path / "good.yaml").write_text(textwrap.dedent("""\
        pack: {id: t, version: "1", jurisdiction: US-EAR, title: T}
        rules: []
    """))
    bad = tmp_path / "zz-binary.yaml"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x8a\xff\xfe" * 20)
    with pytest.raises(PackError) as e:
        load_registry([tmp_path])
    assert e.value.file and e.value.file.endswith("zz-binary.yaml")
    assert "UTF-8" in e.value.message
    assert main(["check", str(ROOT / "examples" / "gpu-to-china.yaml"), "--rules", str(tmp_path)]) == 4
    assert "zz-binary.yaml" in capsys.readouterr().err


# --------------------------------------------------------------------------- helpers

GPU_CN = {"description": "Data-center GPU accelerator", "eccn": "5A992.c", "origin": "US"}


def _sh(destination="CN", date="2026-09-01", items=None, **kw):
    return Shipment.model_validate({"destination": destination, "date": date,
                                    "items": items or [dict(GPU_CN)], **kw})


@pytest.fixture(scope="module")
def eng(registry):
    return Engine.build(registry, use_lists=True, today=dt.date.today())


def _ids(res):
    return {f.rule_id: f for f in res.findings}


# --------------------------------------------------------------------------- 1. parameters


@pytest.mark.parametrize("value,needle", [
    (float("nan"), "finite"), (float("inf"), "finite"), (float("-inf"), "finite"), (-1, ">= 0"),
    (True, "is a number"), ("nan", "finite"), ("Infinity", "finite"),
])
def test_parameter_values_must_be_finite_non_negative_numbers(eng, value, needle):
    r = eng.screen_one(_sh(items=[{**GPU_CN, "parameters": {"tpp": value}}]))
    assert r.decision == "error"
    assert r.errors[0].field == "items[0].parameters.tpp" and needle in r.errors[0].message


def test_parameter_names_are_case_insensitive(eng):
    r = eng.screen_one(_sh(items=[{**GPU_CN, "parameters": {"TPP": 5200, "Performance_Density": 6.4}}]))
    assert r.decision == Outcome.license_required
    f = _ids(r)["AC-3A090A-2023"]
    assert "5200" in f.message  # the canonical value reaches the message placeholders


def test_unknown_parameter_name_is_an_error_with_did_you_mean(eng):
    r = eng.screen_one(_sh(items=[{**GPU_CN, "parameters": {"tppp": 5200}}]))
    assert r.decision == "error"
    assert r.errors[0].field == "items[0].parameters.tppp" and "did you mean 'tpp'" in r.errors[0].message


def test_parameter_given_twice_in_different_case_is_an_error(eng):
    r = eng.screen_one(_sh(items=[{**GPU_CN, "parameters": {"tpp": 100, "TPP": 5200}}]))
    assert r.decision == "error" and "given twice" in r.errors[0].message


def test_booleans_only_where_declared_boolean(eng, registry):
    assert registry.parameters["datacenter"].type == "boolean"
    assert registry.parameters["tpp"].type == "number"
    ok = eng.screen_one(_sh(items=[{**GPU_CN, "parameters": {"tpp": 2000, "performance_density": 6, "datacenter": True}}]))
    assert ok.decision == Outcome.license_required
    bad = eng.screen_one(_sh(items=[{**GPU_CN, "parameters": {"tpp": 2000, "datacenter": 2}}]))
    assert bad.decision == "error" and "true/false" in bad.errors[0].message


def test_gpu_to_china_with_nan_or_uppercase_tpp_is_never_clear(tmp_path, capsys):
    p = tmp_path / "s.yaml"
    p.write_text(textwrap.dedent("""\
        - id: nan
          destination: CN
          date: 2026-09-01
          items: [{description: Data-center GPU accelerator, eccn: 5A992.c, origin: US, parameters: {tpp: .nan}}]
        - id: upper
          destination: CN
          date: 2026-09-01
          items: [{description: Data-center GPU accelerator, eccn: 5A992.c, origin: US, parameters: {TPP: 5200}}]
        - id: none
          destination: CN
          date: 2026-09-01
          items: [{description: Data-center GPU accelerator, eccn: 5A992.c, origin: US}]
    """))
    assert main(["check", str(p), "--format", "json"]) == 3
    out = capsys.readouterr()
    rep = json.loads(out.out)
    dec = {r["id"]: r["decision"] for r in rep["results"]}
    assert dec == {"nan": "error", "upper": "license_required", "none": "review"}
    assert f"{p}:4: items[0].parameters.tpp" in out.err  # file:line:field


# --------------------------------------------------------------------------- 2. fail-closed default in packs

PACK = """\
pack: {id: t, version: "1", jurisdiction: US-EAR, title: T}
rules:
  - id: T-1
    title: t
    outcome: license_required
    when: {all: [{destination_in: [CN]}, {param: {name: widget_power, gte: 10}}]}
    message: "{description}"
    citations: [{ref: "15 CFR 742.4"}]
    effective_from: 2020-01-01
"""


def test_param_missing_is_unknown_by_default(tmp_path):
    (tmp_path / "t.yaml").write_text(PACK)
    e = Engine.build(load_registry([tmp_path]), use_lists=False, today=dt.date.today())
    r = e.screen_one(_sh(items=[{"description": "Widget", "origin": "US"}]))
    f = _ids(r)["T-1"]
    assert f.outcome == Outcome.review and "items[0].parameters.widget_power" in f.message


def test_end_use_shorthand_missing_is_unknown_by_default(tmp_path):
    (tmp_path / "t.yaml").write_text(PACK.replace("{param: {name: widget_power, gte: 10}}",
                                                  "{end_use_has: [missile]}"))
    e = Engine.build(load_registry([tmp_path]), use_lists=False, today=dt.date.today())
    f = _ids(e.screen_one(_sh(items=[{"description": "Widget", "origin": "US"}])))["T-1"]
    assert f.outcome == Outcome.review and "end_use" in f.message


def test_opt_out_without_reason_is_refused(tmp_path):
    (tmp_path / "t.yaml").write_text(PACK.replace("gte: 10}", "gte: 10, if_missing: false}"))
    with pytest.raises(PackError) as e:
        load_registry([tmp_path])
    assert "reason" in e.value.message and e.value.field and "param" in e.value.field


def test_opt_out_with_reason_counts_missing_as_not_met(tmp_path):
    (tmp_path / "t.yaml").write_text(PACK.replace("gte: 10}", 'gte: 10, if_missing: false, reason: "irrelevant"}'))
    e = Engine.build(load_registry([tmp_path]), use_lists=False, today=dt.date.today())
    assert "T-1" not in _ids(e.screen_one(_sh(items=[{"description": "Widget", "origin": "US"}])))


def test_boolean_parameter_condition_must_test_0_or_1(tmp_path):
    (tmp_path / "t.yaml").write_text(PACK.replace("rules:", "parameters:\n  widget_power: {type: boolean, description: x}\nrules:"))
    with pytest.raises(PackError, match="is boolean"):
        load_registry([tmp_path])


def test_every_shipped_opt_out_has_a_reason(registry):
    n = 0
    for pack in registry.rule_packs:
        for rule in pack.rules:
            for _, c in _walk(rule.when, rule.id):
                for fc in (c.param, c.end_use_has if not isinstance(c.end_use_has, list) else None):
                    if fc is not None and fc.if_missing == "false":
                        n += 1
                        assert fc.reason and len(fc.reason) > 40, (rule.id, fc)
    assert n > 0


@pytest.mark.parametrize("dest,desc,eccn", [
    ("CN", "Office chair", "EAR99"), ("CN", "Smartphone", "5A992.c"), ("CN", "Laptop computer", "5A992.c"),
    ("CN", "Oscilloscope", "3A992.a"), ("DE", "Office chair", "EAR99"), ("FR", "Industrial pump", "2B999"),
    ("JP", "Oscilloscope", "3A992.a"), ("CN", "Widget", None),
])
def test_ordinary_shipments_do_not_become_review(eng, dest, desc, eccn):
    """Fail closed without needless reviews: EAR99 / AT-only goods and allied destinations stay clear."""
    item = {"description": desc, "origin": "US", **({"eccn": eccn} if eccn else {})}
    r = eng.screen_one(_sh(destination=dest, items=[item],
                           parties=[{"role": "end_user", "name": "Acme Trading Ltd", "country": dest}]))
    assert r.decision == Outcome.clear, [(f.rule_id, f.message) for f in r.findings]


# --------------------------------------------------------------------------- 3. licences


def test_licence_with_empty_eccns_is_an_input_error():
    with pytest.raises(ValidationError, match="covers nothing"):
        _sh(items=[{**GPU_CN, "licenses": [{"id": "L1", "destinations": ["CN"], "eccns": []}]}])


def test_licence_all_true_covers_every_eccn(eng):
    item = {"description": "Network router", "eccn": "5A002.a", "origin": "US",
            "licenses": [{"id": "L1", "destinations": ["CN"], "all": True}]}
    r = eng.screen_one(_sh(items=[item]))
    req = [f for f in r.findings if f.outcome == Outcome.license_required]
    assert req and all(f.covered_by is not None for f in req)
    with pytest.raises(ValidationError, match="omit eccns"):
        _sh(items=[{**item, "licenses": [{"id": "L1", "destinations": ["CN"], "all": True, "eccns": ["5A002"]}]}])


# --------------------------------------------------------------------------- 4. dates


def test_date_before_the_chart_is_review_naming_the_range(eng):
    r = eng.screen_one(_sh(date="2016-08-15", items=[{"description": "Network router", "eccn": "5A002.a",
                                                      "origin": "US"}]))
    f = _ids(r)["DATE-BEFORE-CHART"]
    assert r.decision != Outcome.clear and f.outcome == Outcome.review
    assert "2016-08-15" in f.message and "2026-07-23" in f.message


def test_date_before_every_pack_is_review(eng):
    r = eng.screen_one(_sh(destination="DE", date="0001-01-01",
                           items=[{"description": "Office chair", "eccn": "EAR99", "origin": "US"}]))
    f = _ids(r)["DATE-BEFORE-PACKS"]
    assert r.decision == Outcome.review and "0001-01-01" in f.message and "onwards" in f.message


@pytest.mark.parametrize("value", [0, 20260815, 1.5, True])
def test_numeric_date_is_an_input_error(value):
    with pytest.raises(ValidationError, match="not a date"):
        _sh(date=value)


# --------------------------------------------------------------------------- 5. countries


@pytest.mark.parametrize("name,cands", [("Korea", ["KP", "KR"]), ("Congo", ["CD", "CG"]),
                                         ("Virgin Islands", ["VG", "VI"])])
def test_ambiguous_country_names_are_errors_listing_candidates(eng, name, cands):
    r = eng.screen_one(_sh(destination=name))
    assert r.decision == "error" and r.errors[0].field == "destination"
    assert "ambiguous" in r.errors[0].message and all(c in r.errors[0].message for c in cands)
    r = eng.screen_one(_sh(destination="DE", parties=[{"name": "Acme", "country": name}]))
    assert r.decision == "error" and r.errors[0].field == "parties[0].country"
    assert resolve("South Korea").alpha2 == "KR" and resolve("KP").alpha2 == "KP"


def test_destination_region_must_belong_to_the_destination(eng):
    r = eng.screen_one(_sh(destination="RU", destination_region="Crimea"))
    assert r.decision == "error" and r.errors[0].field == "destination_region" and "UA" in r.errors[0].message
    ok = eng.screen_one(_sh(destination="UA", destination_region="Crimea",
                            items=[{"description": "Office chair", "eccn": "EAR99", "origin": "US"}]))
    assert ok.decision not in ("error", Outcome.clear)


# --------------------------------------------------------------------------- 6. names and descriptions


@pytest.mark.parametrize("text", [" ", "\t\n", "\x00", "\u200b\u200c", "\u202e\u202c", "\ufeff", "\u2066 \u2069"])
def test_names_and_descriptions_need_letters_or_digits(eng, text):
    r = eng.screen_one(_sh(destination="DE", parties=[{"name": text}]))
    assert r.decision == "error" and r.errors[0].field == "parties[0].name"
    r = eng.screen_one(_sh(destination="DE", items=[{"description": text, "eccn": "EAR99", "origin": "US"}]))
    assert r.decision == "error" and r.errors[0].field == "items[0].description"


# --------------------------------------------------------------------------- 7. --no-lists


def test_no_lists_reviews_shipments_with_parties(registry, tmp_path, capsys):
    e = Engine.build(registry, use_lists=False, today=dt.date.today())
    chair = [{"description": "Office chair", "eccn": "EAR99", "origin": "US"}]
    rep = e.screen([("a", _sh(destination="DE", items=chair, parties=[{"name": "Mahan Air"}])),
                    ("b", _sh(destination="DE", items=chair))])
    a, b = rep.results
    assert a.decision == Outcome.review and _ids(a)["PARTIES-NOT-SCREENED"].outcome == Outcome.review
    assert "Mahan Air" in _ids(a)["PARTIES-NOT-SCREENED"].message
    assert b.decision == Outcome.clear  # nothing to screen: no needless review
    assert any("not screened" in w for w in rep.warnings)
    p = tmp_path / "s.yaml"
    p.write_text("destination: DE\ndate: 2026-09-01\nparties: [{name: Mahan Air}]\n"
                 "items: [{description: Office chair, eccn: EAR99, origin: US}]\n")
    assert main(["check", str(p), "--no-lists"]) == 1
    assert "not screened" in capsys.readouterr().out


@pytest.mark.parametrize("kind", ["fifo", "broken-link"])
def test_unreadable_file_in_rules_dir_is_pack_error_not_skipped_or_hang(tmp_path, kind):
    import os

    (tmp_path / "good.yaml").write_text('pack: {id: t, version: "1", jurisdiction: US-EAR, title: T}\nrules: []\n')
    bad = tmp_path / "zz.yaml"
    if kind == "fifo":
        os.mkfifo(bad)
    else:
        bad.symlink_to(tmp_path / "missing.yaml")
    with pytest.raises(PackError) as e:
        load_registry([tmp_path])
    assert e.value.file and e.value.file.endswith("zz.yaml") and e.value.exit_code == 4


def test_jurisdiction_end_use_opt_out_needs_a_reason():
    from ecscreen.engine.jurisdiction import EndUseScope

    with pytest.raises(ValidationError, match="reason"):
        EndUseScope.model_validate({"phrases": ["x"], "if_missing": False, "question": "q"})
    ok = EndUseScope.model_validate({"phrases": ["x"], "if_missing": False, "reason": "knowledge-based", "question": "q"})
    assert ok.if_missing == "false"
    assert EndUseScope.model_validate({"phrases": ["x"], "question": "q"}).if_missing == "unknown"


def test_party_without_country_is_a_missing_fact_for_party_country_rules(eng):
    """AC-HQ-2023 (purchaser / end user located in Macau or D:5): a party named without a country
    is a missing fact (review naming it), not 'located elsewhere'."""
    gpu = [{"description": "Data-center GPU accelerator", "eccn": "3A090.a", "origin": "US"}]
    r = eng.screen_one(_sh(destination="MY", items=gpu, parties=[{"role": "end_user", "name": "Example Cloud"}]))
    f = _ids(r)["AC-HQ-2023"]
    assert f.outcome == Outcome.review and "parties[0].country" in f.message
    r = eng.screen_one(_sh(destination="MY", items=gpu,
                           parties=[{"role": "end_user", "name": "Example Cloud", "country": "MY"}]))
    assert "AC-HQ-2023" not in _ids(r)


@pytest.mark.parametrize("field,value", [("value_usd", float("inf")), ("quantity", float("nan")),
                                         ("quantity", float("inf"))])
def test_item_numbers_are_finite(field, value):
    with pytest.raises(ValidationError):
        _sh(items=[{**GPU_CN, field: value}])


@pytest.mark.parametrize("end_use", ["   ", "\u200b", "\x00"])
def test_blank_end_use_counts_as_not_stated(tmp_path, end_use):
    (tmp_path / "t.yaml").write_text(PACK.replace("{param: {name: widget_power, gte: 10}}",
                                                  "{end_use_has: [missile]}"))
    e = Engine.build(load_registry([tmp_path]), use_lists=False, today=dt.date.today())
    f = _ids(e.screen_one(_sh(items=[{"description": "Widget", "origin": "US"}], end_use=end_use)))["T-1"]
    assert f.outcome == Outcome.review and "end_use" in f.message
