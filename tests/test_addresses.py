"""Address screening (issue 11 item 5): readers keep list addresses, normalisation, index, findings."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from ecscreen.model import Outcome, Party, PartyRole
from ecscreen.parties.addresses import AddressIndex, address_index, normalize_address
from ecscreen.parties.screening import screen_parties
from ecscreen.parties.store import load_default, read_list

FIX = Path(__file__).parent / "fixtures" / "lists"
AS_OF = dt.date(2026, 8, 15)


@pytest.fixture(scope="module")
def csl() -> list:
    return [read_list(FIX / "csl_addresses.csv")]


@pytest.fixture(scope="module")
def ofac() -> list:
    return [read_list(FIX / "ofac_hk" / "sdn.csv")]


def _screen(lists: list, name: str, address: str | None, country: str | None = "HK"):  # type: ignore[no-untyped-def]
    party = Party(role=PartyRole.consignee, name=name, address=address, country=country)
    return screen_parties([party], as_of=AS_OF, lists=lists)


def _addr(res):  # type: ignore[no-untyped-def]
    return [f for f in res.findings if f.rule_id.startswith("PARTY-ADDRESS")]


# --------------------------------------------------------------------------- readers keep addresses


def test_readers_keep_street_addresses() -> None:
    csv_list = read_list(FIX / "csl_addresses.csv")
    assert csv_list.info.addresses == 4
    assert csv_list.entries[0].addresses[0].startswith("Room 1803, 18/F")
    sdn = read_list(FIX / "ofac_hk" / "sdn.csv")
    wu = next(e for e in sdn.entries if e.id == "SDN-11297")
    assert wu.addresses == ["Room 3605 36/F Wu Chung House, 213 Queens Road East, Wan Chai, Hong Kong"]
    un = read_list(FIX / "un_subset.xml")
    assert any("Avenue Président Mobutu, Goma" in a for e in un.entries for a in e.addresses)
    assert un.info.addresses >= 1
    js = read_list(FIX / "csl_official_subset.json")
    assert js.info.addresses >= 1
    assert load_default().info.addresses == 0


# --------------------------------------------------------------------------- normalisation


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Room 3605 36/F Wu Chung House, 213 Queens Road East", "RM 3605, 36th Floor, Wu Chung Hse., 213 Queen's Rd. E."),
        ("Flat 12, 5/F, Block B, 21 Demo Street", "Unit 12 5F Blk B 21 Demo St"),
        ("Suite 1803, Floor 18, 88 Sample Road", "Rm. 1803, 18/F, 88 Sample Rd"),
        ("Room 1318-19, Hollywood Plaza, 610 Nathan Road", "Room 1318-1319 Hollywood Plaza 610 Nathan Rd"),
        ("88 Sample Road, Tsim Sha Tsui, Kowloon, Hong Kong", "88 Sample Rd, TST, Kowloon, HK"),
        ("Wanchai, Hong Kong SAR", "Wan Chai, Hongkong"),
    ],
)
def test_normalisation_equates_street_building_unit_and_district_forms(a: str, b: str) -> None:
    ka, kb = normalize_address(a), normalize_address(b)
    assert ka.tokens == kb.tokens, (ka.tokens, kb.tokens)


def test_city_only_addresses_locate_no_premises() -> None:
    for text in ("Havana, Cuba", "Zurich CH-8022, Switzerland", "Hong Kong", "Moscow, Russia", "Tehran, Iran"):
        assert not normalize_address(text).street_level, text
    assert normalize_address("Zweierstrasse 35, Zurich CH-8022, Switzerland").street_level


# --------------------------------------------------------------------------- findings


def test_address_only_entry_hits_any_party_at_that_address_as_review(csl: list) -> None:
    res = _screen(csl, "Totally Unrelated Trading Co", "Rm 1803, 18th Floor, Example Commercial Bldg, 88 Sample Rd, TST, Kln, HK")
    found = _addr(res)
    assert len(found) == 1
    f = found[0]
    assert f.outcome == Outcome.review and f.rule_id == "PARTY-ADDRESS-EL"
    assert "Address 01" in f.message and "any party at this address needs review" in f.message
    ev = f.evidence[0]
    assert ev.field == "parties[0].address" and ev.matched.startswith("Room 1803, 18/F")
    assert "unit 1803" in (ev.detail or "") and "example" in (ev.detail or "")
    assert any(c.ref == "89 FR 00001" for c in f.citations)


def test_other_unit_in_the_same_building_is_not_a_hit(csl: list) -> None:
    res = _screen(csl, "Neighbour Ltd", "Room 1804, 18/F, Example Commercial Building, 88 Sample Road, Kowloon")
    assert _addr(res) == []


def test_name_and_address_both_matching_give_the_entry_outcome(csl: list) -> None:
    res = _screen(csl, "Fictional Photonics Trading Ltd", "Unit 2301 23/F Sample Tower, 1 Harbour Example Rd, Wanchai")
    found = _addr(res)
    assert len(found) == 1 and found[0].outcome == Outcome.license_required
    assert "by name" in found[0].message and "AND by address" in found[0].message
    assert {e.field for e in found[0].evidence} == {"parties[0].address", "parties[0].name"}


def test_name_differs_at_listed_entity_address_is_review(csl: list) -> None:
    res = _screen(csl, "Acme Optics", "Unit 2301, 23/F, Sample Tower, 1 Harbour Example Road, Wan Chai, Hong Kong")
    found = _addr(res)
    assert len(found) == 1 and found[0].outcome == Outcome.review
    assert "The names differ" in found[0].message and "license_required" in found[0].message


def test_country_disagreement_and_no_address_give_no_address_hit(csl: list) -> None:
    assert _addr(_screen(csl, "X Ltd", "Unit 2301, 23/F, Sample Tower, 1 Harbour Example Road", country="DE")) == []
    assert _addr(_screen(csl, "X Ltd", None)) == []
    # Hong Kong addresses given with China as the country still match
    assert len(_addr(_screen(csl, "X Ltd", "Unit 2301, 23/F, Sample Tower, 1 Harbour Example Road", country="CN"))) == 1


def test_city_only_list_address_does_not_hit_everyone_in_that_city(csl: list) -> None:
    assert _addr(_screen(csl, "Swiss AG", "Bahnhofstrasse 1, 8001 Zurich", country="CH")) == []


def test_real_ofac_hong_kong_addresses_with_spelling_variants(ofac: list) -> None:
    res = _screen(ofac, "New Tenant Ltd", "Rm 3605, 36/F, Wu Chung House, 213 Queen's Rd E., Wanchai, Hong Kong")
    ids = sorted(f.evidence[1].value for f in _addr(res))
    assert ids == ["SDN-11297", "SDN-11298"]  # "Wu Chung" and "Wu Chang" House, same premises
    assert all(f.outcome == Outcome.review for f in _addr(res))


def test_index_is_built_once_and_only_from_street_level_addresses(csl: list) -> None:
    idx = address_index(csl)
    assert address_index(csl) is idx
    assert len(idx) == 3  # the SDN entry's "Zurich, CH" locates no premises
    big = AddressIndex(load_default().entries)
    assert len(big) == 0


def test_embedded_snapshot_gives_no_address_findings() -> None:
    res = _screen([load_default()], "Nobody Ltd", "Room 1803, 18/F, 88 Sample Road, Kowloon")
    assert _addr(res) == []


# --------------------------------------------------------------------------- robustness and cost


def test_huge_address_is_capped_and_fast(csl: list) -> None:
    import time

    idx = address_index(csl)
    t0 = time.perf_counter()
    hits = idx.search("Room 1803, 18/F, Example Commercial Building, 88 Sample Road " + "x" * 1_000_000, "HK")
    assert time.perf_counter() - t0 < 1.0
    assert [h.entry.name for h in hits] == ["Address 01"]  # the first 512 characters are screened


def test_address_normalisation_never_raises_on_arbitrary_text(csl: list) -> None:
    from hypothesis import given, settings
    from hypothesis import strategies as st

    idx = address_index(csl)

    @settings(max_examples=200, deadline=None, derandomize=True)
    @given(text=st.text(max_size=300), country=st.sampled_from([None, "HK", "CN", "zz", ""]))
    def run(text: str, country: str | None) -> None:
        key = normalize_address(text)
        assert key.numbers <= set(key.tokens) and not key.words & key.numbers
        for hit in idx.search(text, country):
            assert 0.8 <= hit.score <= 1.0

    run()
