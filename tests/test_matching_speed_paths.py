"""h45 (issue 11, speed): the reading generation's memoised and fast paths give exactly what the general code gives
(the general code kept here as the reference)."""

from __future__ import annotations

import pytest

from ecscreen.domain import normalize as nz
from ecscreen.parties import variants
from ecscreen.parties.matching import Matcher
from ecscreen.parties.store import active_lists, matcher_for


@pytest.fixture(scope="module")
def csl() -> Matcher:
    return matcher_for(active_lists())


def test_near_part_reading_still_found(csl: Matcher) -> None:
    """A person's misspelt surname is still read as the list's ('igor sechev' -> IGOR SECHIN)."""
    nn = nz.normalize("Igor Sechev")
    got = variants._near_part_readings(nn, csl.vocab, csl._word_aliases)
    assert ["igor", "sechin"] in [r[0] for r in got]


def test_term_alternatives_of_ascii_text_equal_the_whole_table() -> None:
    table = nz._term_alternatives()
    firsts = [first for first, _ in table.values()]
    texts = ["ACME TRADING LTD", "air china", "iran air", "Japan Airlines", "", *firsts, " ".join(firsts)]
    for text in texts:
        ref = {first: others for word, (first, others) in table.items() if word in text}
        assert nz.term_alternatives(text) == ref
    script = next(iter(table))  # a script word: the non-ASCII path still finds it
    assert nz.term_alternatives(f"x {script} y") == {table[script][0]: table[script][1]}


def _jointly_reference(cands: dict[str, list[str]], known: list[str], aliases: variants.Aliases) -> dict[str, list[str]]:
    """_jointly before h45 (each candidate's list names looked up once per other word)."""
    if len(cands) + len(known) < 2:
        return cands
    reach = {tok: [aliases(c) for c in theirs[:variants._JOINT_CANDIDATES]] for tok, theirs in cands.items()}
    reach.update((k, [aliases(k)]) for k in known if k not in reach)
    out: dict[str, list[str]] = {}
    for tok, mine in cands.items():
        head = mine[:variants._JOINT_RANKED]
        score = {c: sum(1 for o, names in reach.items() if o != tok and variants._meets(aliases(c), names))
                 for c in head}
        out[tok] = sorted(head, key=lambda c: -score[c]) + mine[variants._JOINT_RANKED:]
    return out


def test_joint_ranking_equals_the_reference(csl: Matcher) -> None:
    words = [w for w in csl.vocab_list if len(w) >= 4 and w.isalpha()][::97][:120]
    index = variants._sound_index(csl.vocab)
    for k in range(0, len(words) - 3, 3):
        a, b, c = words[k : k + 3]
        cands = {a: index.candidates(a) or [a], b: index.candidates(b) or [b]}
        for known in ([], [c]):
            got = variants._jointly(cands, known, csl._word_aliases)
            assert got == _jointly_reference(cands, known, csl._word_aliases), (a, b, known)


def test_persian_word_forms_memoised_equal_fresh() -> None:
    words = ["ملت", "اویل", "آینده",
             "البرز", "سازمان"]
    first = [variants._persian_part_forms(w) for w in words]
    variants._persian_part_forms_cached.cache_clear()
    nz._arabic_word.cache_clear()
    assert [variants._persian_part_forms(w) for w in words] == first
    assert all(isinstance(f, list) and f for f in first)
