"""PhraseMatcher compiles only the phrases a text can hit (issue 10 item 5: compiling whole phrase lists was most
of a one-shipment check's first screening). The hits must be exactly those of the full alternation: checked on
every phrase list of the shipped packs against texts built from their own members (case, hyphen, negation,
not_within, non-ASCII variants) and on generated text."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ecscreen.domain.textmatch import PhraseHit, PhraseMatcher, prepare


def _full(m: PhraseMatcher, text: str) -> list[PhraseHit]:
    """``m.find`` with the whole alternation, as it was before the prefilter."""
    full = PhraseMatcher(m.phrases, m._ctx_phrases)
    full._pattern_for = lambda t: full._compile()[0]  # type: ignore[method-assign]
    return full.find(text)


def _pack_lists() -> list[tuple[str, list[str], list[str]]]:
    from ecscreen.packs.registry import load_registry

    out = []
    for lp in load_registry(None).packs:
        lists = getattr(lp.model, "lists", None)
        for name, nl in (lists.items() if isinstance(lists, dict) else []):
            if getattr(nl, "type", None) == "phrases":
                out.append((f"{lp.info.id}:{name}", [x for x in nl.members if x not in nl.exclude],
                            list(nl.not_within)))
    return out


LISTS = _pack_lists()


def _texts(members: list[str], others: list[str]) -> list[str]:
    base = members[:40] + others[:20]
    out = ["Data-center GPU accelerator", "office chairs", "for the PLA (polylactic acid) filament", ""]
    for p in base:
        out += [p, p.upper(), f"not for {p} use", f"supplied to a {p.replace(' ', '-')} customer",
                f"{p}s and spare parts", f"x{p}", f"Ｍｉｌｉｔａｒｙ {p}", f"{p}\u200bend", f"K\u212aelvin {p.title()}"]
    return out


def test_shipped_phrase_lists_are_found() -> None:
    assert len(LISTS) >= 5, [n for n, _, _ in LISTS]


@pytest.mark.parametrize(("name", "members", "not_within"), LISTS, ids=[n for n, _, _ in LISTS])
def test_prefiltered_hits_equal_the_full_alternation_on_shipped_lists(name: str, members: list[str],
                                                                     not_within: list[str]) -> None:
    m = PhraseMatcher(members, not_within)
    others = [p for _, ms, _ in LISTS for p in ms[:3]]
    for text in _texts(members, others):
        assert m.find(text) == _full(m, text), (name, text)


def test_a_text_that_hits_nothing_compiles_nothing() -> None:
    m = PhraseMatcher(["military", "dual use", "nuclear"], ["military grade"])
    assert m.find("Data-center GPU accelerator") == []
    assert m._compiled is None and m._ctx_rx is None and not m._subsets
    assert [h.phrase for h in m.find("for nuclear plants")] == ["nuclear"]
    assert m._compiled is None and list(m._subsets) == [("nuclear",)]
    assert m.find("military grade steel") == []  # not_within compiled only now, on a hit
    assert m._ctx_rx is not None


WORDS = ["military", "dual", "use", "PLA", "police", "nuclear", "end", "user", "not", "for", "non", "ſ", "K",
         "军民融合", "-", "/", ".", "P.L.A.", "Straße", "strasse", "İstanbul"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(WORDS), min_size=1, max_size=4).map(" ".join),
       st.lists(st.lists(st.sampled_from(WORDS), min_size=0, max_size=8).map(" ".join), min_size=1, max_size=5))
def test_prefiltered_hits_equal_the_full_alternation_on_generated_text(phrase: str, texts: list[str]) -> None:
    m = PhraseMatcher([phrase, "dual use", "P.L.A.", "strasse"], ["PLA filament"])
    for text in texts:
        assert m.find(text) == _full(m, text), (phrase, text)
    assert all(re.sub(r"\s+", " ", prepare(t)) is not None for t in texts)
