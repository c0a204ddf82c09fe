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


def test_derived_data_cached_equal_and_damage_ignored(cache_dir: Path) -> None:
    """The English word list and the background frequencies are read from the cache directory after the first
    process (parsing them was ~15 ms CPU of every check): equal to parsing the package files; a damaged or
    foreign file is ignored and written again; no cache directory: parsed."""
    from importlib import resources

    from ecscreen.parties import derived

    data = resources.files("ecscreen").joinpath("data")
    words = M._parse_english_words(data.joinpath("english_words.txt").read_bytes())
    background = M._parse_background(data.joinpath(M.BACKGROUND_FILE).read_bytes())
    assert len(words) > 10_000 and len(background[1]) > 10_000
    try:
        for _ in range(2):  # writes, then reads the files
            M.english_words.cache_clear()
            M.background_df.cache_clear()
            assert M.english_words() == words
            assert M.background_df() == background
        files = sorted(cache_dir.glob("derived-*.bin"))
        assert len(files) == 2
        goods = [f.read_bytes() for f in files]
        for f, good in zip(files, goods, strict=True):  # flipped payload bit: rejected by the checksum, rewritten
            bad = bytearray(good)
            bad[len(bad) // 2] ^= 0x10
            f.write_bytes(bytes(bad))
        M.english_words.cache_clear()
        M.background_df.cache_clear()
        assert M.english_words() == words and M.background_df() == background
        assert [f.read_bytes() for f in files] == goods
        for f in files:
            f.chmod(0o666)  # writable by others: foreign, never unpickled
        state: list[object] = []
        value = derived.cached("english-words", data.joinpath("english_words.txt").read_bytes(),
                               M._parse_english_words, lambda v: state.append(v) or True, cache_dir)
        assert value == words and state == []  # the validator never saw an unpickled value
        # a changed source is another key
        other = derived.cached("english-words", b"alpha\nbeta\n", M._parse_english_words,
                               lambda v: type(v) is frozenset, cache_dir)
        assert other == frozenset({"alpha", "beta"})
        assert derived.cached("english-words", b"gamma\n", M._parse_english_words,
                              lambda v: True, None) == frozenset({"gamma"})
    finally:
        M.english_words.cache_clear()
        M.background_df.cache_clear()
