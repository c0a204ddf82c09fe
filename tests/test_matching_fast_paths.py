"""Issue 11 speed paths of the party matcher's readings give what the plain paths give.

* ``_word_pieces`` tries at each word only the business-table keys of that word's first letter
  (``_keys_by_letter``): the pieces equal those of trying every key in the table's order, for every key of every
  table (alone, with an ending, inside other words) and for words no key matches;
* ``_script_readings`` returns no reading for an ASCII name without looking at the scripts (each of its readings
  needs Han, hangul, kana, Cyrillic or Arabic letters), and still reads a name in those scripts;
* ``_business_langs`` looks for those scripts only in a text with a character above U+03FF: the same languages as
  the five script searches, on real-looking names, the code points at the scripts' edges and random mixes;
* a query's long unknown words are split against the vocabulary once per matcher (``_split_memo``): the same
  words as ``_rejoin`` without the memo, and a matcher over another list does not reuse another's splits.
"""

from __future__ import annotations

import random
from typing import Any

from ecscreen.domain.normalize import normalize
from ecscreen.parties import variants
from ecscreen.parties.variants import (
    BUSINESS_LANGS,
    _BusinessTable,
    _word_matches,
    _word_pieces,
    business_terms,
)


def _pieces_every_key(words: list[str], table: _BusinessTable) -> list[tuple[str, tuple[str, ...] | None]]:
    """``_word_pieces`` as it was: every key of the table tried at every word, in the table's order."""
    keys = [variants._fold_word(w) for w in words]
    out: list[tuple[str, tuple[str, ...] | None]] = []
    i = 0
    while i < len(words):
        found = next(((key, r) for key, r in table.words if _word_matches(key, keys, i)), None)
        if found is None:
            out.append((words[i], None))
            i += 1
        else:
            out.append((" ".join(words[i:i + len(found[0])]), found[1]))
            i += len(found[0])
    return out


def test_word_pieces_by_first_letter_equal_every_key_tried() -> None:
    rng = random.Random(3)
    checked = 0
    for lang in BUSINESS_LANGS:
        table = business_terms(lang)
        if not table.words:
            continue
        words = [w.rstrip("*") + rng.choice(["", "ого", "ая", "ы", "ение", "ی"]) if w.endswith("*") else w
                 for key, _ in table.words for w in key]
        words += ["Иванов", "Петрова", "Mahan", "Техно", "X", "о", "бахман", "شرکت", "صنعتي", "ооо"]
        for _ in range(400):
            text = rng.sample(words, rng.randint(1, 5))
            assert _word_pieces(text, table) == _pieces_every_key(text, table), (lang, text)
            checked += 1
        for key, _ in table.words:  # each key alone and with its stems' endings
            text = [w.rstrip("*") + ("ами" if w.endswith("*") else "") for w in key]
            assert _word_pieces(text, table) == _pieces_every_key(text, table), (lang, text)
    assert checked >= 800


def test_word_pieces_memo_follows_the_table() -> None:
    """The grouping is kept per table: another table (changed data) is grouped again, not served stale."""
    t1 = _BusinessTable({}, ((("завод",), ("plant",)),))
    t2 = _BusinessTable({}, ((("завод",), ("factory",)), (("банк*",), ("bank",))))
    assert _word_pieces(["завод"], t1) == [("завод", ("plant",))]
    assert _word_pieces(["завод", "банка"], t2) == [("завод", ("factory",)), ("банка", ("bank",))]
    assert _word_pieces(["банка"], t1) == [("банка", None)]


def test_script_readings_skip_ascii_names_only() -> None:
    vocab = {"bank": 0, "iran": 1}
    for name in ("Bank Melli Iran", "Acme Trading Co", "Zhongguo Hangkong"):
        nn = normalize(name)
        assert variants._script_readings(nn, list(nn.tokens), vocab, None) == []
    # a name in another script still gets its script's readings (the business vocabulary, the Chinese renderings)
    vocab = {"aviation": 0, "plant": 1}
    nn = normalize("Авиационный завод")
    assert [r[0] for r in variants._script_readings(nn, list(nn.tokens), vocab, None)][0] == ["aviation", "plant"]
    nn = normalize("中国航空工业集团")
    assert ["china", "aviation", "industry", "group"] in [r[0] for r in variants._script_readings(nn, list(nn.tokens),
                                                                                                  vocab, None)]


def _langs_by_searching(text: str) -> list[str]:
    """``_business_langs`` as it was: the five script searches, whatever the text."""
    import re

    langs = []
    if variants._HANGUL_RUN.search(text):
        langs.append("ko")
    if variants._KANA_ANY.search(text):
        langs.append("ja")
    if variants._HAN.search(text):
        langs += ["ja", "zh"] if "ja" not in langs else ["zh"]
    if re.search("[\u0400-\u04ff]", text):
        langs.append("ru")
    if variants._ARABIC_LETTER.search(text):
        langs.append("fa")
    return list(dict.fromkeys(langs))


def test_business_langs_scan_equals_the_script_searches() -> None:
    """One scan for a character above U+03FF decides as the five searches did: the same languages for Latin,
    accented, Greek, Cyrillic, Arabic, Han, kana and hangul names, and for the code points at the edges."""
    rng = random.Random(5)
    samples = ["", "Acme Trading Co", "Viola Norbert Bärer", "Darío Rosa Nevárez", "Ωμέγα Ltd", "Христина Бабій",
               "کوثر ربانی", "峰 刘", "マハーン航空", "성현 승민 박", "華為技術有限公司", "ООО Ромашка 中国",
               "\u03ff", "\u0400", "\u04ff", "\u0500", "\u05ff", "\u0600", "\u06ff", "\u3040", "\u3041", "\u30ff",
               "\u33ff", "\u3400", "\u4dbf", "\u4e00", "\u9fff", "\uabff", "\uac00", "\uac00\uac01", "\ud7a3\ud7a3",
               "\uf900", "\ufaff", "\ufb00", "\U00020000"]
    pool = "".join(samples) + "abcXYZ -"
    samples += ["".join(rng.choice(pool) for _ in range(rng.randint(1, 12))) for _ in range(2000)]
    for text in samples:
        assert variants._business_langs(text) == _langs_by_searching(text), repr(text)


def _matcher(*names: str) -> Any:
    from ecscreen.parties.matching import ListEntry, Matcher

    return Matcher([ListEntry(id=f"e{k}", source="test", source_code="custom", name=n) for k, n in enumerate(names)],
                   cache_dir=None)


def test_split_memo_gives_what_split_token_gives() -> None:
    """``_rejoined`` keeps each word's split (``_split_token`` against the matcher's vocabulary) in a memo: the
    split words equal those of ``_rejoin`` without it, the first time and from the memo, a word that does not
    split included (None is kept too)."""
    from ecscreen.parties import matching

    m = _matcher("Vladimir Putin", "Siemens AG", "Mahan Air", "Rosoboronexport", "Good Will Trading")
    names = [["vladimirputin"], ["siemensag", "trading"], ["mahanair"], ["goodwilltrading"], ["norbertsson", "good"],
             ["rosoboronexport", "vladimirputin"], ["putinvladimir"], ["abcdefgh"]]
    for _ in range(2):  # the second round is answered from the memo
        for tokens in names:
            assert m._rejoined(tokens) == matching._rejoin(list(tokens), m.vocab, min_part=5), tokens
    assert m._split_words[("vladimirputin", 5)] == ("vladimir", "putin")
    assert ("abcdefgh", 5) in m._split_words and m._split_words[("abcdefgh", 5)] is None
    m.clear_caches()
    assert not m._split_words


def test_split_memo_follows_the_list() -> None:
    """The memo belongs to one matcher (one vocabulary): a list without the word's parts does not split it, whatever
    another matcher kept."""
    with_putin = _matcher("Vladimir Putin")
    without = _matcher("Vladimir Smith")
    assert with_putin._rejoined(["vladimirputin", "ltd"]) == ["vladimir", "putin", "ltd"]
    assert without._rejoined(["vladimirputin", "ltd"]) == ["vladimirputin", "ltd"]
    assert with_putin._split_words is not without._split_words
