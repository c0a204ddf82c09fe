"""Renderings of listed names in other scripts (issue 11, item 4): query-side readings."""

from __future__ import annotations

from ecscreen.domain.normalize import hangul_loan_forms, normalize
from ecscreen.parties.store import load_default, matcher_for
from ecscreen.parties.variants import query_variants


def _matcher():  # type: ignore[no-untyped-def]
    return matcher_for([load_default()])


def test_hangul_loan_forms_drop_epenthetic_eu() -> None:
    assert "tupolef" in hangul_loan_forms("투폴레프")  # final 프 read f, 폴레 -> pole
    assert "kaspeorski" in hangul_loan_forms("카스퍼스키")  # 스 without its vowel, open 퍼 as 'per'
    assert "irkut" in hangul_loan_forms("이르쿠트")
    assert hangul_loan_forms("Huawei") == ()


def test_korean_rendering_of_tupolev_hits_tupolev() -> None:
    hits = _matcher().search("투폴레프", limit=3)
    assert any("tupolev" in h.entry.name.lower() for h in hits)  # was 'tapalpa', no hit


def test_korean_rendering_of_kaspersky_reads_kaspersky() -> None:
    mt = _matcher()
    readings = [r.tokens for r in query_variants(normalize("카스퍼스키"), mt.vocab)]
    assert ["kaspersky"] in readings  # was only 'kaspiyskaya'
    assert any("kaspersky" in h.entry.name.lower() for h in mt.search("카스퍼스키", limit=3))


def test_russian_rendering_with_only_list_words_tries_sound_alike() -> None:
    # 'kontsern' is itself a list word; 'concern' is the word of the rendered entity
    hits = _matcher().search("Концерн Калашников", limit=3)
    assert any(h.entry.name == "Kalashnikov Concern" for h in hits)


def test_latin_names_get_no_sound_readings() -> None:
    mt = _matcher()
    assert query_variants(normalize("General Electric Co"), mt.vocab) == []
