"""A firm's short name against the list's longer forms of it (issue 11, Latin controls of the renderings).

Each was missed before: "Rostec" vs "Rostec (Russian Technologies State Corporation)" (the name before a
trailing bracket was not indexed on its own), "Kalashnikov" vs "Kalashnikov Concern" and "Sensetime" vs
"Sensetime Group Limited" (a one-word name found in a list name that only adds group words, see
data/normalize/group_words.txt). Such hits stay possible matches; other added words still rule them out.
"""

from __future__ import annotations

from ecscreen.parties.matching import ListEntry, Matcher, PartyHit
from ecscreen.parties.variants import bracket_head


def _hits(list_name: str, query: str, aliases: tuple[str, ...] = ()) -> list[PartyHit]:
    m = Matcher([ListEntry(id="e", source="t", source_code="custom", name=list_name, aliases=list(aliases))])
    return m.search_many([query], [None], limit=1)[0]


def test_name_before_a_bracketed_long_form_is_an_alias() -> None:
    hits = _hits("Rostec (Russian Technologies State Corporation)", "Rostec")
    assert hits and hits[0].score >= 90 and hits[0].matched_alias == "Rostec"
    assert bracket_head("ASMAT (APPLIED SYSTEMS METHODS AND TECHNOLOGY)") == "ASMAT"
    assert bracket_head("TIDEWATER CO. (MIDDLE EAST MARINE SERVICES)") is None  # several words: kept whole


def test_bracket_head_needs_four_letters_and_not_only_place_words() -> None:
    assert bracket_head("PCC (UK)") is None
    assert bracket_head("INDONESIA (MMI)", frozenset({"indonesia"})) is None
    assert bracket_head("No bracket here") is None
    assert not _hits("INDONESIA (MMI)", "Indonesia")


def test_one_word_name_found_in_list_name_adding_only_group_words() -> None:
    for list_name, query in (("Kalashnikov Concern", "Kalashnikov"), ("Sensetime Group Limited", "Sensetime"),
                             ("Zorblatex Holding", "Zorblatex")):
        hits = _hits(list_name, query)
        assert hits, (list_name, query)
        assert hits[0].band == "possible"  # a short name: to confirm, never a firm finding


def test_one_word_name_not_found_when_list_name_adds_other_words() -> None:
    assert not _hits("Kalashnikov Concern Machine Works", "Kalashnikov")
    assert not _hits("Sensetime Robotics Group", "Sensetime")
