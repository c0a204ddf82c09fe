"""Check-path latency, second round (issue 10): what a one-shipment check no longer builds, with the same results."""
from __future__ import annotations

from pathlib import Path

import pytest

from ecscreen.parties import matching as M
from ecscreen.parties.matching import ListEntry, Matcher
from ecscreen.parties.store import load_default


@pytest.fixture()
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = tmp_path / "cache"
    monkeypatch.setenv("ECSCREEN_CACHE_DIR", str(d))
    monkeypatch.delenv("ECSCREEN_NO_CACHE", raising=False)
    monkeypatch.setattr(M, "CACHE_MIN_NAMES", 0)
    return d


@pytest.fixture(scope="module")
def sample() -> list[ListEntry]:
    """Every 10th CSL entry plus every entry with a non-ASCII name (Han script among them)."""
    han = [ListEntry(id="h1", source="t", source_code="custom", name="华为技术有限公司"),
           ListEntry(id="h2", source="t", source_code="custom", name="Acme Trading", aliases=["中兴通讯"])]
    return han + [e for i, e in enumerate(load_default().entries)
                  if i % 10 == 0 or not all(a.isascii() for a in [e.name, *e.aliases])]


def test_normalized_without_alias_dict_equals_the_index(cache_dir: Path, sample: list[ListEntry],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Matcher.normalized answers the first calls (a one-shipment check's few hits) without building the
    text -> alias dict over every alias (~20 ms on the full lists), with exactly the index's normalisation:
    built and cache-loaded indexes, every alias text (Han-script ones too) and a name that is no alias."""
    built = Matcher(sample, cache_key="k")
    assert built.cache_status == "saved"
    loaded = Matcher(sample, cache_key="k")
    assert loaded.cache_status == "loaded"
    texts = [*loaded.alias_text[::7], *[t for t in loaded.alias_text if M._HAN_TEXT.search(t)], "Acme Widgets Inc"]
    assert any(M._HAN_TEXT.search(t) for t in texts)
    for m in (built, loaded):
        first = [m.normalized(t) for t in texts[:50] if not M._HAN_TEXT.search(t)]
        assert m._alias_ids is None  # a few calls: no dict
        fresh = Matcher(sample, cache_key="k")
        monkeypatch.setattr(M, "ALIAS_IDS_AFTER", 0)  # the dict from the first call on: the former behaviour
        reference = [fresh.normalized(t) for t in texts]
        assert fresh._alias_ids is not None
        monkeypatch.setattr(M, "ALIAS_IDS_AFTER", 512)
        assert first == [r for t, r in zip(texts[:50], reference[:50], strict=True) if not M._HAN_TEXT.search(t)]
        assert [m.normalized(t) for t in texts] == reference  # past the threshold: the dict, same values
        assert m._alias_ids is not None
