"""Nicknames and numbers written in words (issue 11, name pairs F1: the misses were nicknames, initials and
spelled-out numbers). Each test failed before nicknames.csv / numbers.txt were read."""

from __future__ import annotations

from ecscreen.domain.normalize import given_name_forms, normalize
from ecscreen.parties.matching import Matcher, token_sim


def test_nickname_table_is_the_vendored_data_one_way() -> None:
    assert "theodore" in given_name_forms("ted") and "benjamin" in given_name_forms("ben")
    # a given name does not reach a word that happens to be its nickname ('Arthur J. Gallagher & Co.' hit
    # 'THE ART GALLERY' when the table was read both ways)
    assert given_name_forms("arthur") == frozenset()
    # particles, stop words and one- or two-letter nicknames are left out ('al' is a name particle)
    assert given_name_forms("al") == frozenset()
    assert given_name_forms("huawei") == frozenset()


def test_nickname_is_a_near_match_of_its_given_name() -> None:
    assert token_sim("ted", "theodore") == 0.85
    assert token_sim("arthur", "art") == 0.0
    assert token_sim("ted", "tedx") < 0.85  # not a nickname: the ordinary rules decide


def test_nicknamed_person_matches_the_listed_given_name() -> None:
    m = Matcher([])
    assert m.compare("Ted Doe", "Theodore Doe") >= 80
    assert m.compare("Ben Netanyahu", "Benjamin Netanyahu") >= 80


def test_numbers_in_words_are_read_as_digits() -> None:
    assert normalize("Brigade Forty-Four").tokens == normalize("Brigade 44").tokens == ("brigade", "44")
    assert normalize("Brigade Fourty 4").tokens == ("brigade", "44")
    assert normalize("1st International Bank").tokens == normalize("First International Bank").tokens
    # a lone unit word stays a word; codes keep their digits
    assert normalize("Three Arrows Capital").tokens[0] == "three"
    assert normalize("4x4 Ltd").tokens == ("4x4",)
