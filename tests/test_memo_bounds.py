"""Issue 14 (1M-row batch peak memory): the bounds and sharing added to the batch memos keep results exact."""

from __future__ import annotations

import datetime as dt

import pytest

from ecscreen.engine.chartmemo import Interner
from ecscreen.model import Citation, Evidence, Finding, Outcome
from ecscreen.parties import lazyentries as LE
from ecscreen.parties import store as L
from ecscreen.parties.lazyentries import LazyEntries, encode_rows


def _cite(text: str = "15 CFR 738.4") -> Citation:
    return Citation(ref=text)


def test_lazy_entries_keep_a_bounded_number_decoded(monkeypatch: pytest.MonkeyPatch) -> None:
    """Regression: every entry decoded on demand was kept for the run (~2.3 KB each, 15,765 of 25,921 after
    300k ERP rows); now at most DECODED_KEEP are kept, and an entry read again is equal to the list's."""
    L._load_default.cache_clear()
    entries = list(L.load_default(None).entries[:600])
    L._load_default.cache_clear()
    rows = encode_rows(entries)
    assert rows is not None
    monkeypatch.setattr(LE, "DECODED_KEEP", 100)
    lazy = LazyEntries(rows, "k")
    for _ in range(2):
        for i, e in enumerate(entries):
            got = lazy[i]
            assert got == e and got.model_fields_set == e.model_fields_set
            assert len(lazy._kept) <= 100
    assert lazy.decodes == 2 * len(entries)  # the first pass's entries were dropped: decoded again
    assert lazy[-1] == entries[-1] and lazy[1:3] == entries[1:3] and list(lazy) == entries
    with pytest.raises(IndexError):
        lazy[len(entries)]


def test_interner_shares_equal_models_only() -> None:
    """Regression: chart memo entries each held their own copies of equal citations, steps and evidence
    (~10 KB per entry at 300k rows). Equal models are now one object; models that differ in any way that
    can show in the output (a value's type or sign, the fields set) stay apart."""
    it = Interner()
    a, b = _cite(), _cite()
    assert a is not b
    assert it.share(a) is a and it.share(b) is a
    assert it.share(_cite("15 CFR 744")) is not a
    # the fields set shows in exclude_unset output: not shared across it
    c = Citation(ref="15 CFR 738.4", note=None)
    assert c == a and it.share(c) is c
    # -0.0 == 0.0 but prints differently
    e0 = Evidence(field="items[0].value", value=0.0, detail="x")
    e1 = Evidence(field="items[0].value", value=-0.0, detail="x")
    assert it.share(e0) is e0 and it.share(e1) is e1
    assert it.share(Evidence(field="items[0].value", value=0.0, detail="x")) is e0
    # models inside models: shared first, then the outer one
    f1 = Finding(rule_id="CHART-1", pack_id="p", title="t", outcome=Outcome.license_required, message="m",
                 citations=[_cite()], evidence=[Evidence(field="destination", value="CN", detail="d")])
    f2 = Finding(rule_id="CHART-1", pack_id="p", title="t", outcome=Outcome.license_required, message="m",
                 citations=[_cite()], evidence=[Evidence(field="destination", value="CN", detail="d")])
    s1 = it.share([f1])
    s2 = it.share([f2])
    assert s1[0] is f1 and s2[0] is f1 and f1.citations[0] is a
    f3 = f2.model_copy(update={"message": "other"})
    assert it.share(f3) is f3 and f3 == f3.model_copy()
    it.clear()
    assert len(it) == 0
    d = Finding(rule_id="R", pack_id="p", title="t", outcome=Outcome.review, message="m",
                effective_from=dt.date(2026, 7, 23))
    assert it.share(d) is d and it.share(d.model_copy()) is d


def test_interner_shares_fields_sets_and_copies_stay_apart() -> None:
    """Equal fields sets of kept models are one set (~0.5 KB each); a copy made from a kept model has its own,
    so what a copy sets never shows in the kept model's ``exclude_unset`` output."""
    it = Interner()
    a = it.share(Evidence(field="destination", value="CN"))
    b = it.share(Evidence(field="eccn", value="3A090"))
    assert a.__pydantic_fields_set__ is b.__pydantic_fields_set__
    c = a.model_copy(update={"detail": "x"})
    assert c.model_fields_set == {"field", "value", "detail"}
    assert a.model_dump(exclude_unset=True) == {"field": "destination", "value": "CN"}
    assert b.model_dump(exclude_unset=True) == {"field": "eccn", "value": "3A090"}
