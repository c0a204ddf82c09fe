"""The jurisdiction examples run through ``ecscreen.engine.screen`` (party screening included).

examples/jurisdiction/expected.yaml gives, per file, the decision, exit code, the item's
jurisdiction status and (optionally) a finding that must be present.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml

from ecscreen.engine.context import ScreeningContext, screen_report
from ecscreen.inputs.files import load_shipments
from ecscreen.packs.registry import cached_registry

EX = Path(__file__).resolve().parents[1] / "examples" / "jurisdiction"
EXPECTED = yaml.safe_load((EX / "expected.yaml").read_text("utf-8"))
_CTX: list[ScreeningContext] = []


def screen(shipments):
    """The examples through the one screening path (shipped packs, embedded lists; their dates decide)."""
    if not _CTX:
        _CTX.append(ScreeningContext.build(cached_registry(), today=dt.date.today()))
    return screen_report(shipments, _CTX[0])


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_jurisdiction_example(name):
    want = EXPECTED[name]
    report = screen(load_shipments(EX / name))
    assert report.decision == want["decision"]
    assert report.exit_code == want["exit_code"]
    (res,) = report.results
    (jur,) = res.jurisdiction
    assert jur.status == want["jurisdiction"]
    assert jur.steps and jur.steps[-1].name == "conclusion"
    if "finding" in want:
        f = next(f for f in res.findings if f.rule_id == want["finding"])
        assert f.steps and f.citations


def test_chip_to_footnote_1_entity_is_caught_by_fdp_not_de_minimis():
    (res,) = screen(load_shipments(EX / "fdp-chip-to-hisilicon.yaml")).results
    (jur,) = res.jurisdiction
    deciding = [s.name for s in jur.steps if s.deciding]
    assert "FDP 734.9(e)(1)" in deciding and "de minimis" not in deciding
    dm = next(s for s in jur.steps if s.name == "de minimis")
    assert dm.outcome == "not_subject"  # 5 % U.S. content: de minimis alone would not reach it
    f = next(f for f in res.findings if f.rule_id == "JUR-FDP-E1")
    assert "HiSilicon" in f.message and "744.11(a)(2)(i)" in f.message
    assert any(e.field == "parties[0].name" and e.score for e in f.evidence)


def test_german_machine_is_caught_by_de_minimis_then_licensed_by_the_chart():
    (res,) = screen(load_shipments(EX / "de-minimis-german-machine.yaml")).results
    (jur,) = res.jurisdiction
    assert jur.summary == "subject to the EAR: de minimis"
    dm = next(s for s in jur.steps if s.name == "de minimis")
    assert dm.deciding and dm.inputs["us_content_percent"] == 30 and dm.inputs["threshold"] == 25
    assert any(f.outcome.value == "license_required" for f in res.findings)


def test_unlisted_buyer_same_chip_is_not_subject_and_nothing_fires():
    (res,) = screen(load_shipments(EX / "fdp-chip-to-unlisted-buyer.yaml")).results
    (jur,) = res.jurisdiction
    assert jur.status == "not_subject"
    assert res.findings == []
