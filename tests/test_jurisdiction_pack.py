"""The kind: jurisdiction pack: the shipped data and the loader's checks (file and field named)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ecscreen.engine import jurisdiction as J
from ecscreen.errors import PackError
from ecscreen.packs.registry import load_registry

ROOT = Path(__file__).resolve().parents[1]
GROUPS = ROOT / "rules/us-ear/country-groups.yaml"
PACK = ROOT / "rules/us-ear/jurisdiction.yaml"
TEXT = PACK.read_text("utf-8")


def load_variant(tmp_path: Path, old: str, new: str, name: str = "jurisdiction.yaml"):
    assert old in TEXT, old
    p = tmp_path / name
    p.write_text(TEXT.replace(old, new, 1), "utf-8")
    return load_registry([GROUPS, p])


def test_shipped_pack_loads_with_every_paragraph():
    reg = load_registry([GROUPS, PACK])
    (lp,) = reg.of_kind("jurisdiction")
    m: J.JurisdictionPack = lp.model
    paras = sorted({r.paragraph for r in m.fdp})
    assert paras == sorted(["734.9(b)", "734.9(c)", "734.9(d)", "734.9(e)(1)", "734.9(e)(2)", "734.9(e)(3)",
                            "734.9(f)", "734.9(g)", "734.9(h)", "734.9(i)", "734.9(j)", "734.9(k)", "734.9(l)"])
    assert len(m.fdp) == 17
    assert [t.percent for t in m.de_minimis.thresholds] == [10, 10, 25]
    assert len(m.de_minimis.no_de_minimis) == 8
    assert len(m.country_sets["partner_countries_746"].members) == 37


def test_every_rule_cites_its_paragraph_and_consequence():
    reg = load_registry([GROUPS, PACK])
    m: J.JurisdictionPack = reg.of_kind("jurisdiction")[0].model
    for r in m.fdp:
        assert any(c.ref == f"15 CFR {r.paragraph}" for c in r.citations), r.paragraph
        assert r.consequence.citations, r.paragraph
    for nd in m.de_minimis.no_de_minimis:
        assert any(c.ref.startswith(f"15 CFR {nd.id}") for c in nd.citations), nd.id


@pytest.mark.parametrize("old,new,msg", [
    ("  version: \"2026.11.21\"\n", "  version: \"2026.11.21\"\n  colour: blue\n", "colour"),
    ("5E001, 5D001, 3E002", "5E001, 5X001, 3E002", "not an ECCN pattern"),
    ('exporter_in: ["set:partner_countries_746"]', 'exporter_in: ["set:partners"]', "unknown country set"),
    ("      destinations: [IR]", "      destinations: [IRN]", "not an ISO 3166 code"),
    ('      destinations: ["group:D:5", "group:E:1", "group:E:2"]',
     '      destinations: ["group:D:9", "group:E:1", "group:E:2"]', "unknown country group"),
    ('dp_inputs: ["list:CAT345_DE", 5D002, 5E002]', 'dp_inputs: ["list:CAT999", 5D002, 5E002]', "unknown ECCN list"),
    ("    effective_from: 2023-01-17\n    effective_to: 2023-11-17",
     "    effective_from: 2023-01-10\n    effective_to: 2023-11-17", "overlap"),
    ("      percent: 10\n      alternative_percent: 25\n", "      percent: 10\n", "alternative_percent"),
    ("      percent: 25\n", "      percent: 25\n      destinations: [US]\n", "last threshold"),
    ("    outcome: license_required\n      title: Licence required - Iran",
     "    outcome: clear\n      title: Licence required - Iran", "clear"),
])
def test_bad_pack_is_rejected_naming_the_problem(tmp_path, old, new, msg):
    with pytest.raises(PackError) as exc:
        load_variant(tmp_path, old, new)
    assert msg in str(exc.value)
    assert "jurisdiction.yaml" in str(exc.value)


def test_only_one_jurisdiction_pack(tmp_path):
    p = tmp_path / "second.yaml"
    p.write_text(TEXT.replace("id: us-ear-jurisdiction", "id: us-ear-jurisdiction-2"), "utf-8")
    with pytest.raises(PackError, match="only one jurisdiction pack"):
        load_registry([GROUPS, PACK, p])
