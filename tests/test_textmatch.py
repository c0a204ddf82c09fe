import pytest
from hypothesis import given
from hypothesis import strategies as st

from ecscreen.domain.textmatch import PhraseMatcher

M = PhraseMatcher(["military", "dual use", "facial recognition", "军民融合", "police"])


@pytest.mark.parametrize(
    "text,hit",
    [
        ("for military end use", True),
        ("MILITARY radar", True),
        ("not for military use", False),
        ("Not intended for any military application", False),
        ("non-military customer", False),
        ("nonmilitary", False),
        ("paramilitary", False),  # word-bounded
        ("militaryish", False),
        ("civil use only, no military", False),
        ("military and not civil", True),
        ("no export licence needed; military customer", True),  # negation does not cross the clause
        ("dual-use camera", True),
        ("dual use camera", True),
        ("system with facial   recognition", True),
        ("服务于军民融合战略", True),
        ("不用于军民融合", False),
        ("for the police", True),
        ("", False),
    ],
)
def test_negation_aware(text, hit):
    assert bool(M.positive(text)) is hit


def test_reports_phrase():
    hits = M.positive("Dual-Use thermal camera")
    assert [h.phrase for h in hits] == ["dual use"]


@given(st.text(max_size=300))
def test_never_crashes(text):
    for h in M.find(text):
        assert h.phrase in M.phrases
