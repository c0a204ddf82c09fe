"""Names of listed entities written in Chinese, Japanese, Korean, Russian and Persian (issue 11, renderings).

Each test was failing before the data or reading it names was added: Chinese company names are translations
(han_names.txt, han_terms.txt), Japanese kanji words in a kana name are read the Japanese way (kanji_terms.txt),
Korean writes an organisation name as one word (script_terms.txt, split off the hangul word), Russian renders
English company words by sound (эйр = air), a one-word Persian name is a brand that gets sound-alike readings.
"""

from __future__ import annotations

import datetime as dt

import pytest

from ecscreen.domain.normalize import normalize
from ecscreen.model import Party, PartyRole
from ecscreen.parties.screening import screen_parties


def tokens(text: str) -> tuple[str, ...]:
    return normalize(text).tokens


def hit_names(name: str) -> set[str]:
    ps = screen_parties([Party(role=PartyRole.consignee, name=name)], as_of=dt.date(2026, 8, 15))
    return {h.entry.name.casefold() for h in ps.hits[0]} | {a.casefold() for h in ps.hits[0] for a in h.entry.aliases}


def test_chinese_company_names_are_translated_not_transliterated() -> None:
    assert tokens("杭州海康威视数字技术股份有限公司") == ("hangzhou", "hikvision", "digital", "technology")
    assert tokens("中国移动通信集团有限公司") == ("china", "mobile", "communication", "group")
    assert tokens("浪潮集团有限公司") == ("inspur", "group")
    # traditional characters first converted to simplified (OpenCC), then the same words
    assert tokens("中國電信集團有限公司") == tokens("中国电信集团有限公司") == ("china", "telecommunication", "group")


def test_chinese_province_names_are_words_of_their_own() -> None:
    assert tokens("浙江吉利控股集团有限公司")[:2] == ("zhejiang", "jili")


@pytest.mark.parametrize(
    ("name", "listed"),
    [
        ("杭州海康威视数字技术股份有限公司", "hangzhou hikvision digital technology co., ltd."),
        ("中国移动通信集团有限公司", "china mobile communications group co., ltd."),
        ("中芯国际集成电路制造有限公司", "semiconductor manufacturing international corporation"),
        ("浪潮集团有限公司", "inspur group co., ltd."),
    ],
)
def test_chinese_names_of_listed_entities_hit(name: str, listed: str) -> None:
    assert listed in hit_names(name)


def test_kanji_in_a_kana_name_is_read_the_japanese_way() -> None:
    assert tokens("マハーン航空") == ("mahan", "air")  # 航空: 'air' in Japanese airline names, not 'aviation'
    assert "mahan air" in hit_names("マハーン航空")


def test_kana_written_together_with_kanji_is_still_romanised_for_sound_matching() -> None:
    nn = normalize("ファーウェイ株式会社")
    assert nn.tokens == ("fawei",) and nn.sound_tokens == ("fawei",) and nn.legal == ("kk",)


def test_korean_organisation_words_are_split_off_a_hangul_name() -> None:
    assert tokens("단천상업은행") == ("dancheon", "commercial", "bank")
    assert tokens("조선광업개발무역회사") == ("korea", "mining", "development", "trading")
    # Revised Romanisation 'dancheon' meets the lists' McCune-Reischauer 'Tanchon' by sound
    assert "tanchon commercial bank" in hit_names("단천상업은행")
    assert "korea mining development trading corporation" in hit_names("조선광업개발무역회사")


def test_russian_renderings_of_english_company_words() -> None:
    assert tokens("Махан Эйр") == ("makhan", "air")
    assert "mahan air" in hit_names("Махан Эйр")


def test_one_word_persian_brand_gets_sound_alike_readings() -> None:
    assert normalize("هوآوی").sound_tokens == ("huavi",)
    assert any(n.startswith("huawei") for n in hit_names("هوآوی"))
    # a person's name (two words, no organisation word) still does not
    assert normalize("قصي التكريتي").sound_tokens == ()


def test_kana_of_a_japanese_given_name_gets_no_sound_readings() -> None:
    # one or two kana written with kanji (くみ子) are a given name, not a brand: no sound-alike readings
    assert normalize("くみ子 田中").sound_tokens == ()


def test_word_initial_ayn_is_read_as_a_vowel() -> None:
    # علي was read 'li' and never met 'ALI'; a word-initial ayn carries a vowel (Ali, Abd, Umar)
    assert tokens("علي حسن المجيد التكريتي")[0] == "ali"
    assert tokens("عبد الله")[0] == "abd"
