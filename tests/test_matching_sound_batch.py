"""h30: the sound expansions of a block's new words are scored together (``_QueryPrep._sound_lists_many``, in
skeleton / Jaro-Winkler bucket order, from ``_prefetch_words``); a word's expansions must be exactly those of the
word expanded alone: the same list words, similarities and insertion order (the kernel reads the order)."""

from __future__ import annotations

import pytest

from ecscreen.parties.matching import Matcher, _fuzzy_ok
from ecscreen.parties.store import active_lists, matcher_for


@pytest.fixture(scope="module")
def csl() -> Matcher:
    return matcher_for(active_lists())


def _words(m: Matcher) -> list[str]:
    # list words and, for each, a one-letter-off spelling that is usually not a list word (sound-alike territory)
    vocab = [t for t in m.vocab_list if _fuzzy_ok(t)][::7]
    return vocab + [t[:-2] + t[-1] + t[-2] for t in vocab if len(t) >= 5]


def test_sound_lists_in_one_batch_equal_each_word_alone(csl: Matcher) -> None:
    words = _words(csl)
    together = csl._sound_lists_many(words)
    assert set(together) == set(words)
    for w in words:
        assert together[w] == csl._sound_lists_many([w])[w], w


def test_prefetched_expansions_equal_cold_expansions_in_order(csl: Matcher) -> None:
    """``_expand`` of words prefetched with a block of names (the batch path) equals ``_expand`` of the same
    words with nothing prefetched (``check``'s one-name path), dict order included."""
    words = _words(csl)[:3000]
    names = [" ".join(words[i:i + 3]) for i in range(0, len(words), 3)]
    csl.clear_caches()
    csl._sounds_found = {}
    cold = {w: list(csl._expand(w).items()) for w in words}
    csl.clear_caches()
    csl._prefetch_words(names)
    assert csl._sounds_found, "the block's words were scored together"
    warm = {w: list(csl._expand(w).items()) for w in words}
    assert warm == cold
    assert sum(1 for v in cold.values() if len(v) > 1) > 100  # words with sound-alike neighbours were compared
    csl.clear_caches()
