"""Names written as one word (issue 11, run-together ALLCAPS / CamelCase), screened against the embedded CSL.

Each case missed before: the legal form the split finds was thrown away (OOOADIS read as 'adis' and scored
as if 'OOO' were missing), compound list words hid the words of the name (SKYONE, HONGKONG, AUTOPARTS), a
number run together with the words (FUYUANYU7868) and a five-letter aircraft mark (EPITA = EP-ITA).
"""

from __future__ import annotations

import datetime as dt

import pytest

from ecscreen.domain.normalize import normalize
from ecscreen.model import Party, PartyRole
from ecscreen.parties.screening import screen_parties
from ecscreen.parties.store import load_default, matcher_for
from ecscreen.parties.variants import query_variants


def hit_names(name: str) -> set[str]:
    ps = screen_parties([Party(role=PartyRole.consignee, name=name)], as_of=dt.date(2026, 8, 15))
    return {h.entry.name.casefold() for h in ps.hits[0]}


@pytest.mark.parametrize(
    ("query", "listed"),
    [
        ("OOOADIS", "ooo adis"),
        ("OooAdis", "ooo adis"),
        ("JOINTSTOCKCOMPANYSTAR", "joint stock company star"),
        ("SKYONECONSTRUCTIONCOMPANYLIMITED", "sky one construction company limited"),
        ("INDUSTRIAHONGKONGLTD", "industria hong kong ltd"),
        ("AUTOPARTSEASTFZCO", "auto parts east fzco"),
        ("FUYUANYU7868", "fu yuan yu 7868"),
        ("LONGXING612", "long xing 612"),
        ("EPITA", "ep-ita"),
    ],
)
def test_run_together_names_are_found(query: str, listed: str) -> None:
    assert listed in hit_names(query)


def test_split_reading_keeps_the_legal_form_it_found() -> None:
    m = matcher_for([load_default()])
    readings = query_variants(normalize("OOOADIS"), m.vocab)
    adis = [r for r in readings if r.tokens == ["adis"]]
    assert adis and adis[0].norm is not None and adis[0].norm.legal == ("ooo",)


def test_two_letter_legal_form_found_by_chance_keeps_the_strict_bar() -> None:
    # 'CISCO' is not 'CIS Co.': a two-letter legal form found inside a word does not lower the bar
    m = matcher_for([load_default()])
    for r in query_variants(normalize("CISCO"), m.vocab):
        assert r.min_score >= 95.0


def test_compound_words_of_a_name_with_spaces_are_not_split_again() -> None:
    # 'BankUnited, Inc.' is not 'Bank Uni Ted'; numbers are split off only in a name written as one word
    m = matcher_for([load_default()])
    readings = [r.tokens for r in query_variants(normalize("BankUnited, Inc."), m.vocab)]
    assert ["bank", "uni", "ted"] not in readings
    assert all("number" not in r.reason for r in query_variants(normalize("Expion360 Inc."), m.vocab))
