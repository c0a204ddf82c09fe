"""Regression tests for issue 13 (decisions a compliance officer would sign): negation scoped to the
words it negates, the enforced-scope policy and --policy cfr-text, the hts_code field and its
conditions, and the country of ultimate destination."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError
from typer.testing import CliRunner

from ecscreen.cli.main import app, main
from ecscreen.domain.textmatch import PhraseMatcher, prepare
from ecscreen.engine.core import Engine
from ecscreen.errors import PackError
from ecscreen.model import Item, Outcome, Shipment
from ecscreen.packs.registry import load_registry

runner = CliRunner()
MIL = PhraseMatcher(["military", "PLA", "People's Liberation Army", "解放军", "军队", "police", "ministry of national defense"])


# ---------------------------------------------------------------- negation scope and normalisation
@pytest.mark.parametrize("text,hit", [
    # before the fix: "no" / "non" anywhere within five words negated the phrase
    ("no doubt for the People's Liberation Army", True),
    ("without doubt military", True),
    ("not only civil but military", True),
    ("non-civil PLA logistics unit", True),
    ("not a problem for civil aviation and military", True),
    # still negated: only function words between the negator and the phrase
    ("not for military use", False),
    ("will not be used by any military end user", False),
    ("neither military nor police", False),
    ("other than military", False),
    ("won't be military", False),
    ("non-military", False),
    # a negated enumeration negates all its members (end-use certificates are written this way)
    ("no military, police or intelligence end use", False),
    ("not for nuclear, chemical or biological weapons or missiles", False),
    # spellings a reader reads as the phrase
    ("for the P.L.A.", True),
    ("for the P. L. A. navy", True),
    ("for the P.L.A", True),
    ("人民解放軍", True),
    ("軍隊", True),
    ("mili\u200btary", True),
    ("ｍｉｌｉｔａｒｙ", True),
    ("Ministry of National Defense", True),
    ("paramilitary", False),
])
def test_negation_is_scoped_and_spellings_fold(text: str, hit: bool) -> None:
    assert bool(MIL.positive(text)) is hit


def test_prepare_is_deterministic_and_keeps_ascii() -> None:
    assert prepare("plain text") == "plain text"
    assert prepare("U.S. Army") == prepare("U.S. Army")
    assert "US" in prepare("U.S. Army")


# ---------------------------------------------------------------- policy: enforced scope vs CFR text
def _gpu(dest: str) -> Shipment:
    return Shipment.model_validate({"destination": dest, "date": "2026-10-01",
                                    "items": [{"description": "GPU", "eccn": "3A090.a", "origin": "US"}]})


def test_ai_diffusion_enforced_scope_clears_allied_destination(registry: Any) -> None:
    res = Engine.build(registry, use_lists=False, today=dt.date.today()).screen_one(_gpu("DE"))
    assert res.decision == Outcome.clear  # before: review ("the CFR text and the BIS statement differ")
    both = [w for w in res.warnings if "CFR text: licence required" in w]
    assert both and "2025-05-13" in both[0] and "decided by the enforced scope" in both[0]


def test_policy_cfr_text_follows_the_codified_text(registry: Any) -> None:
    eng = Engine.build(registry, use_lists=False, policy="cfr-text", today=dt.date.today())
    res = eng.screen_one(_gpu("DE"))
    assert res.decision == Outcome.license_required
    f = next(f for f in res.findings if f.rule_id == "CHART-3A090-RS")
    assert any("decided by the CFR text" in n for n in f.notes)
    # a second engine with the default policy is not affected by the first
    assert Engine.build(registry, use_lists=False, today=dt.date.today()).screen_one(_gpu("DE")).decision == Outcome.clear


def test_policy_does_not_change_destinations_both_readings_catch(registry: Any) -> None:
    for pol in ("enforced", "cfr-text"):
        assert Engine.build(registry, use_lists=False, policy=pol, today=dt.date.today()).screen_one(_gpu("SA")).decision == \
            Outcome.license_required


def test_unknown_policy_is_rejected(registry: Any) -> None:
    with pytest.raises(ValueError):
        Engine.build(registry, use_lists=False, policy="text", today=dt.date.today())


def test_cli_policy_option(tmp_path: Path) -> None:
    p = tmp_path / "s.yaml"
    p.write_text(yaml.safe_dump({"destination": "DE", "date": "2026-10-01",
                                 "items": [{"description": "GPU", "eccn": "3A090.a", "origin": "US"}]}))
    r1 = runner.invoke(app, ["check", str(p), "--no-lists", "--format", "json"])
    assert r1.exit_code == 0, r1.output
    r2 = runner.invoke(app, ["check", str(p), "--no-lists", "--format", "json", "--policy", "cfr-text"])
    assert r2.exit_code == 1, r2.output
    assert json.loads(r2.stdout)["options"]["policy"] == "cfr-text"
    assert main(["check", str(p), "--policy", "bogus"]) == 2
    csv = tmp_path / "o.csv"
    csv.write_text("destination,eccn,description,origin,date\nDE,3A090.a,GPU,US,2026-10-01\n")
    assert runner.invoke(app, ["batch", str(csv), "--no-lists"]).exit_code == 0
    rb = runner.invoke(app, ["batch", str(csv), "--no-lists", "--policy", "cfr-text"])
    assert rb.exit_code == 1 and "license_required" in rb.stdout


# ---------------------------------------------------------------- hts_code
@pytest.mark.parametrize("raw,want", [("8471.30.0100", "8471300100"), ("847130", "847130"), ("8471 30 01", "84713001"),
                                      (847130, "847130"), ("", None)])
def test_hts_code_normalised(raw: Any, want: str | None) -> None:
    assert Item(description="x", hts_code=raw).hts_code == want


@pytest.mark.parametrize("raw", ["84713", "8471.30.01001", "84x130", "８４７１３０", True, 8.5])
def test_hts_code_rejected(raw: Any) -> None:
    with pytest.raises(ValidationError):
        Item.model_validate({"description": "x", "hts_code": raw})


def test_hs_code_is_accepted_as_alias() -> None:
    # before: hs_code was rejected as an unknown key and nothing could settle the HTS question
    assert Item.model_validate({"description": "x", "hs_code": "8807.10"}).hts_code == "880710"


def test_batch_rejects_bad_hts_cell_with_location(tmp_path: Path) -> None:
    csv = tmp_path / "o.csv"
    csv.write_text("destination,eccn,description,origin,date,hts_code\nRU,EAR99,pump,US,2026-10-01,84x3\n"
                   "RU,EAR99,rotor blade,US,2026-10-01,8807.10\n")
    r = runner.invoke(app, ["batch", str(csv), "--no-lists"])
    lines = r.stdout.splitlines()
    assert ":2:6: hts_code: not an HTS code" in lines[1] and lines[1].split(",")[6] == "error"
    assert "DEST-RU-HTS-LISTED" in lines[2]


def test_hts_in_pack_validation(tmp_path: Path) -> None:
    pack = {"pack": {"id": "t-hts", "version": "1", "jurisdiction": "US-EAR", "title": "t"},
            "lists": {"codes": {"type": "hts", "members": ["88", "84x1"]}},
            "rules": [{"id": "T-HTS", "title": "t", "outcome": "review", "message": "m",
                       "citations": [{"ref": "15 CFR 746.8"}], "effective_from": "2024-01-01",
                       "when": {"hts_in": ["list:codes"]}}]}
    p = tmp_path / "t.yaml"
    p.write_text(yaml.safe_dump(pack))
    with pytest.raises(PackError, match="not an HTS prefix"):
        load_registry([p], extend=True)


# ---------------------------------------------------------------- country of ultimate destination
def test_end_user_in_embargoed_country_is_not_cleared(full_engine: Any) -> None:
    sh = Shipment.model_validate({"destination": "DE", "date": "2026-10-01",
                                  "parties": [{"role": "end_user", "name": "Karimi Farm Supplies", "country": "IR"}],
                                  "items": [{"description": "pump", "eccn": "EAR99", "origin": "US"}]})
    res = full_engine.screen_one(sh)
    assert res.decision == Outcome.prohibited  # before: clear (the end user's country was ignored)
    w = [x for x in res.warnings if "country of ultimate destination" in x]
    assert w and "decided by Iran" in w[0] and "Germany (DE): clear" in w[0]
    assert res.destination == "DE"


def test_end_user_in_destination_adds_nothing(full_engine: Any) -> None:
    sh = Shipment.model_validate({"destination": "JP", "date": "2026-10-01",
                                  "parties": [{"role": "end_user", "name": "Tanaka KK", "country": "JP"}],
                                  "items": [{"description": "laptop", "eccn": "5A992.c", "origin": "US"}]})
    res = full_engine.screen_one(sh)
    assert res.decision == Outcome.clear
    assert not [x for x in res.warnings if "ultimate destination" in x]


# ---------------------------------------------------------------- remaining EAR parts (h5)
def _camera(dest: str, params: dict[str, Any], **item: Any) -> Shipment:
    return Shipment.model_validate({"destination": dest, "date": "2026-10-01", "items": [
        {"description": "Thermal imaging camera", "eccn": "6A003.b.4.b", "origin": "US", "parameters": params, **item}]})


def test_camera_rs1_finding_names_742_6_a2_iii_licences(engine: Any) -> None:
    """Regression: the RS 1 finding for a 6A003.b.4.b camera under § 742.6(a)(2)(ii) said nothing of the
    (a)(2)(iii) licences (CCL_LIMITS: 'not in the data'); the note and citation are data now, and a licence
    listed for the item covers the finding."""
    res = engine.screen_one(_camera("DE", {"frame_rate_hz": 30, "fpa_elements": 307200}))
    f = next(f for f in res.findings if f.rule_id == "CHART-6A003-RS")
    assert res.decision == Outcome.license_required and f.covered_by is None
    assert any("742.6(a)(2)(iii)" in n and "items[].licenses" in n for n in f.notes)
    assert any(c.ref == "15 CFR 742.6(a)(2)(ii)-(iii)" for c in f.citations)
    held = engine.screen_one(_camera("DE", {"frame_rate_hz": 30, "fpa_elements": 307200},
                                     licenses=[{"id": "D1234567", "destinations": ["DE"]}]))
    assert held.decision == Outcome.clear
    # RS 2 (60 Hz or less, 111,000 elements or fewer, not embedded): no RS 1 finding, no note
    small = engine.screen_one(_camera("DE", {"frame_rate_hz": 30, "fpa_elements": 76800, "embedded_in_civil_product": 0}))
    assert small.decision == Outcome.clear and not small.findings


def test_syria_spp_by_date(engine: Any) -> None:
    """Regression: EAR99 items to Syria stayed license_required after License Exception SPP (15 CFR 740.5,
    90 FR 42315, effective 2025-09-02); orders dated before it keep the old outcome."""
    def one(date: str, **item: Any) -> Any:
        it = {"description": "Water pump", "origin": "US", **item}
        return engine.screen_one(Shipment.model_validate({"destination": "SY", "date": date, "items": [it]}))

    after = one("2025-09-02", eccn="EAR99")
    f = next(f for f in after.findings if f.rule_id == "EMB-SY")
    assert after.decision == Outcome.clear and f.covered_by is not None
    assert f.covered_by.kind == "license_exception" and "740.5" in f.covered_by.ref
    assert one("2025-09-01", eccn="EAR99").decision == Outcome.license_required
    assert one("2026-10-01").decision == Outcome.review  # no ECCN: SPP only if it is EAR99
    assert one("2026-10-01", eccn="5A991").decision == Outcome.license_required
