"""screen_parties: findings per list from the party_lists pack, citations, clearances, staleness."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from ecscreen.errors import EcscreenError
from ecscreen.model import Outcome, Party, PartyRole
from ecscreen.parties.matching import AllowList, Clearance
from ecscreen.parties.screening import (
    PartyListsPack,
    load_allowlist,
    load_pack,
    screen_parties,
    screen_party_batches,
)
from ecscreen.parties.store import read_list

FIX = Path(__file__).parent / "fixtures" / "lists"
AS_OF = dt.date(2026, 8, 15)


@pytest.fixture(scope="module")
def own() -> list:
    return [read_list(FIX / "own_parties.yaml")]


def _p(name: str, country: str | None = None, role: PartyRole = PartyRole.end_user) -> Party:
    return Party(role=role, name=name, country=country)


def test_pack_loads_and_maps_outcomes() -> None:
    pack = load_pack()
    assert pack.rule_for("EL").outcome == Outcome.license_required
    assert pack.rule_for("SDN").outcome == Outcome.prohibited
    assert pack.rule_for("DPL").outcome == Outcome.prohibited
    assert pack.rule_for("UVL").outcome == Outcome.review
    assert pack.rule_for("MEU").outcome == Outcome.license_required
    assert pack.rule_for("XYZ").outcome == Outcome.review
    refs = [c.ref for c in pack.rule_for("EL").citations]
    assert "15 CFR 744.11" in refs and "15 CFR part 744, Supplement No. 4" in refs


def test_pack_rejects_unknown_keys_with_line(tmp_path: Path) -> None:
    bad = tmp_path / "party-lists.yaml"
    bad.write_text(
        "kind: party_lists\n"
        "pack: {id: t, version: '1', jurisdiction: US-EAR, title: t}\n"
        "default: {outcome: review, title: t, message: m}\n"
        "lists:\n"
        "  EL: {outcome: license_required, title: t, message: m, colour: red}\n",
        encoding="utf-8",
    )
    with pytest.raises(EcscreenError) as exc:
        load_pack(bad)
    assert exc.value.line == 5
    assert "colour" in (exc.value.field or "") + exc.value.message


def test_entity_list_hit_finding(own: list) -> None:
    ps = screen_parties([_p("华为技术有限公司", "CN")], as_of=AS_OF, lists=own)
    assert ps.hits[0] and ps.hits[0][0].entry.id == "el-huawei"
    f = ps.findings[0]
    assert f.rule_id == "PARTY-EL"
    assert f.pack_id == "us-ear-party-lists"
    assert f.outcome == Outcome.license_required
    assert f.covered_by is None and f.blocking
    assert "Huawei Technologies Co., Ltd." in f.message and "Presumption of denial" in f.message
    ev = f.evidence[0]
    assert ev.field == "parties[0].name" and ev.value == "华为技术有限公司" and ev.score == 100
    assert "transliterated" in (ev.detail or "")
    refs = [c.ref for c in f.citations]
    assert "15 CFR 744.11" in refs and "84 FR 22963" in refs and "85 FR 51603" in refs
    assert any("footnote designation(s) 1, 2" in n for n in f.notes)
    assert [(i, h.entry.id) for i, h in ps.footnote_hits] == [(0, "el-huawei")]


@pytest.mark.parametrize(
    ("name", "rule", "outcome"),
    [
        ("Aviation Industry Corporation of China", "PARTY-MEU", Outcome.license_required),
        ("Atlas Sanatgaran", "PARTY-UVL", Outcome.review),
        ("Global Electronics Trading Group LLC", "PARTY-DPL", Outcome.prohibited),
    ],
)
def test_outcome_per_list(own: list, name: str, rule: str, outcome: Outcome) -> None:
    ps = screen_parties([_p(name)], as_of=AS_OF, lists=own)
    assert ps.findings and ps.findings[0].rule_id == rule and ps.findings[0].outcome == outcome


def test_no_hit_no_finding(own: list) -> None:
    ps = screen_parties([_p("Patricia Lucas Wheeler", "US"), _p("Electronics Trading Group")], as_of=AS_OF, lists=own)
    assert ps.hits == [[], []]
    assert ps.findings == []


def test_country_mismatch_is_noted(own: list) -> None:
    ps = screen_parties([_p("NSO Group", "DE")], as_of=AS_OF, lists=own)
    f = ps.findings[0]
    assert f.rule_id == "PARTY-EL"
    assert any(e.field == "parties[0].country" and "differs" in (e.detail or "") for e in f.evidence)
    assert any("confirm identity" in n for n in f.notes)


def test_clearance_covers_hit(own: list) -> None:
    al = AllowList(
        [Clearance(party="Huawei Technologies Co Ltd", entry_id="el-huawei", reason="ok", approver="A. Reviewer",
                   expires=dt.date(2027, 1, 1))]  # fmt: skip
    )
    ps = screen_parties([_p("HUAWEI TECHNOLOGIES CO., LTD.", "CN")], as_of=AS_OF, lists=own, allowlist=al)
    hit = ps.hits[0][0]
    assert hit.cleared is not None and hit.cleared.approver == "A. Reviewer"
    f = ps.findings[0]
    assert f.covered_by is not None and f.covered_by.kind == "clearance" and not f.blocking
    assert ps.footnote_hits == []


def test_expired_clearance_warns(own: list) -> None:
    al = AllowList([Clearance(party="NSO Group", entry_id="el-nso", reason="x", approver="B", expires=dt.date(2026, 1, 1))])
    ps = screen_parties([_p("NSO Group")], as_of=AS_OF, lists=own, allowlist=al)
    assert ps.findings[0].covered_by is None
    assert any("expired on 2026-01-01" in w for w in ps.warnings)


def test_allowlist_file(tmp_path: Path) -> None:
    p = tmp_path / "clearances.yaml"
    p.write_text(
        "kind: party_clearances\nclearances:\n"
        "  - {party: NSO Group, entry_id: el-nso, reason: other firm, approver: C, expires: 2027-01-01}\n",
        encoding="utf-8",
    )
    al = load_allowlist(p)
    assert len(al) == 1
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: party_clearances\nclearances:\n  - {party: X, entry_id: e}\n", encoding="utf-8")
    with pytest.raises(EcscreenError) as exc:
        load_allowlist(bad)
    assert exc.value.line == 3


def test_staleness_warning(own: list, monkeypatch: pytest.MonkeyPatch) -> None:
    ps = screen_parties([_p("Nobody In Particular")], as_of=dt.date(2026, 12, 1), lists=own)
    assert any("older than 45 days" in w for w in ps.list_warnings)
    assert ps.warnings == []
    assert ps.lists[0].age_days == (dt.date(2026, 12, 1) - dt.date(2026, 8, 1)).days
    # the limit comes from the caller (the CLI reads $ECSCREEN_LIST_MAX_AGE_DAYS into its settings)
    ps = screen_parties([_p("Nobody In Particular")], as_of=dt.date(2026, 12, 1), lists=own, max_age_days=365)
    assert ps.list_warnings == []
    monkeypatch.setenv("ECSCREEN_LIST_MAX_AGE_DAYS", "365")  # below the CLI the environment is not read
    ps = screen_parties([_p("Nobody In Particular")], as_of=dt.date(2026, 12, 1), lists=own)
    assert any("older than 45 days" in w for w in ps.list_warnings)


def test_default_lists_screen_real_entries() -> None:
    ps = screen_parties([_p("SMIC", "CN"), _p("Huawei Technologies Co., Ltd.", "CN")], as_of=dt.date(2026, 8, 1))
    smic_codes = {h.entry.source_code for h in ps.hits[0]}
    assert "EL" in smic_codes or "CMIC" in smic_codes
    assert any(h.entry.source_code == "EL" and 5 in h.entry.footnotes for h in ps.hits[0])
    assert any(f.rule_id == "PARTY-EL" and f.evidence[0].field == "parties[1].name" for f in ps.findings)
    assert ps.lists and ps.lists[0].name == "US Consolidated Screening List"


def test_pack_model_is_strict() -> None:
    with pytest.raises(ValueError):
        PartyListsPack.model_validate({"kind": "party_lists", "pack": {}, "default": {}})


def test_batches_equal_single_calls(own: list) -> None:
    batches = [[_p("华为技术有限公司", "CN"), _p("Patricia Lucas Wheeler")], [], [_p("NSO Group", "IL")]]
    many = screen_party_batches(batches, as_of=AS_OF, lists=own)
    assert len(many) == 3
    for parties, ps in zip(batches, many, strict=True):
        one = screen_parties(parties, as_of=AS_OF, lists=own)
        assert [[h.entry.id for h in hs] for hs in ps.hits] == [[h.entry.id for h in hs] for hs in one.hits]
        assert [f.rule_id for f in ps.findings] == [f.rule_id for f in one.findings]
    assert many[1].hits == [] and many[1].findings == []
    assert many[2].findings[0].evidence[0].field == "parties[0].name"


def test_clearances_from_environment(own: list, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    p = tmp_path / "clearances.yaml"
    p.write_text(
        "kind: party_clearances\nclearances:\n"
        "  - {party: NSO Group, entry_id: el-nso, reason: other firm, approver: C, expires: 2027-01-01}\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("ECSCREEN_CLEARANCES", str(p))
    # the settings (CLI / API layer) read the variable; party screening gets the clearances explicitly
    from ecscreen.cli.options import clearances_for
    from ecscreen.settings import Settings

    assert Settings.from_env().clearances == (p,)
    ps = screen_parties([_p("NSO Group")], as_of=AS_OF, lists=own, allowlist=clearances_for(None))
    assert ps.findings[0].covered_by is not None
    # below the CLI nothing reads the environment: no clearances unless given
    assert screen_parties([_p("NSO Group")], as_of=AS_OF, lists=own).findings[0].covered_by is None


def test_possible_match_below_confirm_score_is_review():
    """A fuzzy hit below the pack's confirm_score is a possible match: review, never a hard outcome."""
    import datetime as _dt

    from ecscreen.model import Outcome as _Outcome
    from ecscreen.model import Party as _Party
    from ecscreen.parties.screening import load_pack as _load_pack
    from ecscreen.parties.screening import screen_parties as _screen

    confirm = _load_pack().confirm_score
    ps = _screen([_Party(role="end_user", name="Hikvsion Digital Tech")], as_of=_dt.date(2024, 6, 1))
    weak = [f for f in ps.findings if f.evidence[0].score is not None and f.evidence[0].score < confirm]
    assert weak, "expected at least one possible match below the confirmation score"
    assert all(f.outcome == _Outcome.review for f in weak)
    assert any("Possible match only" in n for f in weak for n in f.notes)
    strong = _screen([_Party(role="end_user", name="Dahua Technology")], as_of=_dt.date(2024, 6, 1))
    assert any(f.outcome == _Outcome.license_required for f in strong.findings)


# --------------------------------------------------------------------------- bands, merging, summary (issue 11)


def _screen_one(full_engine, name: str, country: str | None, dest: str = "DE", date: str = "2026-08-01"):
    from conftest import ship

    sh = ship(destination=dest, date=date, parties=[{"role": "consignee", "name": name, "country": country}])
    return full_engine.screen_one(sh)


def test_possible_entity_list_hit_never_yields_license_required(full_engine) -> None:
    """A possible hit on an Entity List entry with footnote 1 (Huawei) is review everywhere: the party
    finding and every rule that depends on the hit (RP-HUAWEI-2019), and no message asserts the fact."""
    res = _screen_one(full_engine, "Huawie", "CN")
    assert res.decision == Outcome.review, [(f.rule_id, f.outcome) for f in res.findings]
    party = [f for f in res.findings if f.rule_id.startswith("PARTY-")]
    assert party and all(f.outcome == Outcome.review for f in party)
    assert all("possible match" in f.message for f in party)
    dependent = [f for f in res.findings if f.rule_id == "RP-HUAWEI-2019"]
    assert dependent and all(f.outcome == Outcome.review for f in dependent)
    assert all("possible match" in f.message and f.message.startswith("Cannot decide") for f in dependent)


def test_strong_entity_list_hit_keeps_the_list_outcome(full_engine) -> None:
    res = _screen_one(full_engine, "Huawei Technologies Co., Ltd.", "CN")
    assert res.decision == Outcome.license_required
    assert any(f.rule_id == "RP-HUAWEI-2019" and f.outcome == Outcome.license_required for f in res.findings)


def test_one_finding_per_listed_entity(full_engine) -> None:
    """Huawei is on the CSL (EL, CMIC) and on the project list: one PARTY finding names every list."""
    res = _screen_one(full_engine, "Huawei Technologies Co., Ltd.", "CN")
    party = [f for f in res.findings if f.rule_id.startswith("PARTY-")]
    huawei = [f for f in party if any(e.value == "EL-3334" for e in f.evidence)]
    assert len(huawei) == 1, [(f.rule_id, f.evidence[0].matched) for f in party]
    f = huawei[0]
    assert "EL (license_required)" in f.message and "CMIC (review)" in f.message
    ids = {e.value for e in f.evidence[1:] if e.field == "parties[0].name"}
    assert {"EL-3334", "CMIC-30947", "el-huawei-technologies"} <= ids  # every entry of the entity is evidence


def test_merging_groups_entries_sharing_a_name() -> None:
    from ecscreen.parties.matching import ListEntry, PartyHit
    from ecscreen.parties.screening import group_hits

    def hit(eid: str, code: str, name: str, aliases: list[str]) -> PartyHit:
        e = ListEntry(id=eid, source=code, source_code=code, name=name, aliases=aliases)
        return PartyHit(query="q", entry=e, matched_alias=name, score=95, name_score=95, explanation="x")

    hs = [
        hit("1", "EL", "Alpha Widgets Co., Ltd.", []),
        hit("2", "SDN", "ALPHA WIDGETS COMPANY LIMITED", ["AWC"]),
        hit("3", "EL", "Beta Gizmos", []),
    ]
    groups = group_hits(hs)
    assert sorted(len(g) for g in groups) == [1, 2]


def test_clear_party_states_what_it_was_screened_against(own) -> None:
    ps = screen_parties([_p("Ordinary Office Furniture GmbH", "DE")], as_of=AS_OF, lists=own)
    assert ps.findings == []
    assert len(ps.summaries) == 1
    s = ps.summaries[0]
    assert s.matches == 0 and s.lists and s.lists[0].startswith("Test restricted parties")
    assert "screened against 1 list(s)" in s.summary and s.summary.endswith("no match")


def test_report_lists_party_screening_per_party(full_engine) -> None:
    res = _screen_one(full_engine, "Ordinary Office Furniture GmbH", "DE")
    assert res.decision == Outcome.clear
    assert len(res.party_screening) == 1 and res.party_screening[0].summary.endswith("no match")
    assert res.party_screening[0].lists  # names and dates of the lists


def test_overlong_party_name_is_review_not_clear(own) -> None:
    """Fail closed: a name longer than MAX_NAME_CHARS is cut for screening and the party is review."""
    ps = screen_parties([_p("A" * 70_000)], as_of=AS_OF, lists=own)
    assert any(f.rule_id == "PARTY-NAME-TOO-LONG" and f.outcome == Outcome.review for f in ps.findings)


def test_names_list_rule_inherits_band(full_engine) -> None:
    """A party_name_in rule (pack names list) is firm on an exact member, review on a possible match."""
    res = _screen_one(full_engine, "Sugon", "CN")
    assert any(f.rule_id == "RP-FN4-2022" and f.outcome == Outcome.license_required for f in res.findings)
    res = _screen_one(full_engine, "ON SEMICONDUCTOR CORP", "US")
    assert not any(f.rule_id.startswith("RP-SMIC") or f.rule_id.startswith("RP-FN5") for f in res.findings)
