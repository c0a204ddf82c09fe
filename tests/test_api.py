"""The public Python API (README example) and pack layering (--rules adds, --rules-only replaces)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

import ecscreen
from ecscreen.engine.snapshot import load_registry_snapshot, registry_digest
from ecscreen.packs.registry import load_registry

ROOT = Path(__file__).resolve().parents[1]

GPU_CN = {"destination": "CN", "date": "2026-10-01",
          "items": [{"description": "Data-center GPU", "eccn": "3A090.a"}]}
CHAIR_DE = {"destination": "DE", "date": "2026-10-01",
            "items": [{"description": "Office chair", "eccn": "EAR99"}]}


@pytest.fixture(scope="module")
def screener() -> ecscreen.Screener:
    return ecscreen.Screener(lists=False, cache_dir=None)


def test_readme_example(screener: ecscreen.Screener) -> None:
    result = screener.screen(GPU_CN)
    assert result.decision == "license_required"
    assert "AC-3A090A-2023" in [f.rule_id for f in result.findings]


def test_screen_accepts_model_and_dict_alike(screener: ecscreen.Screener) -> None:
    a = screener.screen(GPU_CN)
    b = screener.screen(ecscreen.Shipment.model_validate(GPU_CN))
    assert a.model_dump(exclude={"id", "source"}) == b.model_dump(exclude={"id", "source"})


def test_invalid_shipment_is_error_not_raise(screener: ecscreen.Screener) -> None:
    r = screener.screen({"items": [{"description": "x"}]})
    assert r.decision == "error"
    assert r.errors and r.errors[0].field == "destination"


def test_report_envelope_matches_check_json(screener: ecscreen.Screener) -> None:
    rep = screener.report([GPU_CN, CHAIR_DE])
    assert rep.tool == "ecscreen" and rep.tool_version == ecscreen.__version__
    assert [r.decision for r in rep.results] == ["license_required", "clear"]
    assert rep.decision == "license_required" and rep.exit_code == 1
    assert {p.id for p in rep.packs} >= {"us-ear-advanced-computing", "us-ear-country-groups"}
    assert all(len(p.sha256) == 64 for p in rep.packs)


def test_as_of_overrides_shipment_dates() -> None:
    s = ecscreen.Screener(lists=False, cache_dir=None, as_of="2022-01-01")
    r = s.screen(GPU_CN)
    assert r.as_of == dt.date(2022, 1, 1)


def test_today_is_explicit_not_read_inside_screen(screener: ecscreen.Screener) -> None:
    undated = {k: v for k, v in GPU_CN.items() if k != "date"}
    assert screener.screen(undated, today=dt.date(2025, 3, 1)).as_of == dt.date(2025, 3, 1)


USER_PACK = """\
pack:
  id: {pid}
  version: "1"
  jurisdiction: US-EAR
  title: test pack
  sources: [{{kind: regulation, ref: "15 CFR 744"}}]
rules:
  - id: TEST-CHAIR
    title: chairs are watched
    outcome: review
    effective_from: 2000-01-01
    when: {{destination_in: [DE]}}
    message: "chairs to {{destination}}"
    citations: [{{kind: regulation, ref: "15 CFR 744"}}]
"""


def _user_pack(tmp_path: Path, pid: str) -> Path:
    p = tmp_path / f"{pid}.yaml"
    p.write_text(USER_PACK.format(pid=pid), encoding="utf-8")
    return p


def test_rules_adds_to_shipped_packs(tmp_path: Path) -> None:
    s = ecscreen.Screener(rules=[_user_pack(tmp_path, "my-pack")], lists=False, cache_dir=None)
    ids = {p.id for p in s.registry.infos}
    assert "my-pack" in ids and "us-ear-embargoes" in ids
    iran = {"destination": "IR", "date": "2026-10-01", "items": [{"description": "Office chair", "eccn": "EAR99"}]}
    assert s.screen(iran).decision in ("prohibited", "license_required")  # shipped embargo rules still apply
    assert "TEST-CHAIR" in [f.rule_id for f in s.screen(CHAIR_DE).findings]


def test_rules_only_replaces_shipped_packs_and_says_so(tmp_path: Path) -> None:
    reg = load_registry([_user_pack(tmp_path, "my-pack")])
    ids = {p.id for p in reg.infos}
    # the shipped destination sets (Country Groups, the CWC States Parties list) stay loaded
    assert ids == {"my-pack", "us-ear-country-groups", "us-ear-destination-lists"}
    assert any("shipped rule packs not used" in n for n in reg.notes)
    rep = ecscreen.Screener(rules_only=[tmp_path], lists=False, cache_dir=None).report([CHAIR_DE])
    assert any("shipped rule packs not used" in w for w in rep.warnings)


def test_same_id_replaces_one_shipped_pack_and_report_says_so(tmp_path: Path) -> None:
    reg = load_registry([_user_pack(tmp_path, "us-ear-destinations")], extend=True)
    mine = [p for p in reg.infos if p.id == "us-ear-destinations"]
    assert len(mine) == 1 and mine[0].version == "1"
    assert any("replaces the shipped pack" in n for n in reg.notes)


def test_rules_and_rules_only_are_exclusive(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        ecscreen.Screener(rules=[tmp_path], rules_only=[tmp_path], lists=False, cache_dir=None)


def test_snapshot_cache_round_trip_and_invalidation(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    a = load_registry_snapshot(cache_dir=cache)
    files = list(cache.glob("registry-*.bin"))
    assert len(files) == 1
    b = load_registry_snapshot(cache_dir=cache)
    assert [p.info for p in a.packs] == [p.info for p in b.packs]
    # a pack change gives another digest
    user = _user_pack(tmp_path, "my-pack")
    d1 = registry_digest([user], True)
    user.write_text(user.read_text().replace('version: "1"', 'version: "2"'))
    assert registry_digest([user], True) != d1


def test_snapshot_ignores_corrupt_and_foreign_files(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    load_registry_snapshot(cache_dir=cache)
    f = next(cache.glob("registry-*.bin"))
    data = bytearray(f.read_bytes())
    data[-10] ^= 0xFF  # payload checksum no longer matches
    f.write_bytes(bytes(data))
    reg = load_registry_snapshot(cache_dir=cache)
    assert reg.packs  # rebuilt from source
    f.chmod(0o666)  # world-writable: never unpickled
    reg = load_registry_snapshot(cache_dir=cache)
    assert reg.packs
