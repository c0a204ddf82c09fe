"""Check-path latency, third round (issue 10): caches that hit across processes, and what a check no longer imports."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SRC = str(Path(__file__).resolve().parents[1] / "src")


def _run(code: str, env: dict[str, str] | None = None, drop: tuple[str, ...] = ()) -> str:
    full = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", ""), **(env or {})}
    for name in drop:
        full.pop(name, None)
    return subprocess.run([sys.executable, "-c", code], env=full, check=True, capture_output=True,
                          text=True).stdout.strip()


def test_derived_cache_key_is_the_same_in_every_process() -> None:
    """Regression: the derived-data key hashed ``repr(co_consts)``, which names the address of a nested code
    object (the parser's generator expression), so every process had another key: the English word list was
    parsed and a new cache file written on every check, never read back."""
    code = ("from ecscreen.parties import derived, matching as M\n"
            "print(derived._digest('english-words', b'x', M._parse_english_words),"
            " derived._digest('background', b'x', M._parse_background))")
    seen = {_run(code, {"PYTHONHASHSEED": seed}) for seed in ("1", "2", "3")}
    assert len(seen) == 1


def test_derived_cache_key_follows_the_parser_code() -> None:
    """Equal code compiled twice (two code objects at two addresses) gives one key; other code, nested code
    included, another; frozenset constants hash whatever their iteration order."""
    from ecscreen.parties import derived

    def build(src: str) -> object:
        ns: dict[str, object] = {}
        exec(compile(src, "<parser>", "exec"), ns)  # noqa: S102 - test helper: a parser defined from text
        return ns["parse"]

    one = "def parse(raw):\n    return frozenset(w for w in raw.split() if w not in {'a', 'b', 'c'})\n"
    same = build(one), build(one)
    assert same[0] is not same[1] and same[0].__code__ is not same[1].__code__  # type: ignore[attr-defined]
    keys = [derived._digest("k", b"x", f) for f in same]  # type: ignore[arg-type]
    assert keys[0] == keys[1]
    nested_change = one.replace("w for w", "w.lower() for w")
    assert derived._digest("k", b"x", build(nested_change)) != keys[0]  # type: ignore[arg-type]
    assert derived._digest("k", b"y", same[0]) != keys[0]  # type: ignore[arg-type]


def test_english_words_cache_is_read_by_the_next_process(tmp_path: Path) -> None:
    """Two processes with one cache directory: the first writes the derived file, the second reads it (no
    new file, the same words)."""
    code = ("from ecscreen.parties import matching as M\n"
            "import hashlib; w = M.english_words()\n"
            "print(len(w), hashlib.sha256(' '.join(sorted(w)).encode()).hexdigest())")
    env = {"ECSCREEN_CACHE_DIR": str(tmp_path), "ECSCREEN_NO_CACHE": ""}
    first = _run(code, env)
    files = sorted(p.name for p in tmp_path.glob("derived-*.bin"))
    assert len(files) == 1
    for seed in ("5", "6"):
        assert _run(code, {**env, "PYTHONHASHSEED": seed}) == first
    assert sorted(p.name for p in tmp_path.glob("derived-*.bin")) == files


CHECK_PROBE = """
import json, sys
from ecscreen.cli.main import main
rc = main(sys.argv[1:])
sys.stderr.write("MODULES=" + json.dumps(sorted(sys.modules)) + "\\n")
sys.exit(rc)
"""

SHIPMENT = """\
id: R3-1
date: 2026-10-01
destination: CN
parties:
  - {role: end_user, name: "Huawei Technologies Co., Ltd.", country: CN}
items:
  - {description: Data-center GPU accelerator, eccn: 3A090.a, origin: US}
"""


def _check_modules(tmp_path: Path, env: dict[str, str] | None = None) -> tuple[int, str, list[str]]:
    ship = tmp_path / "ship.yaml"
    ship.write_text(SHIPMENT, encoding="utf-8")
    full = {**os.environ, "PYTHONPATH": SRC, "ECSCREEN_HOME": str(tmp_path / "home"),
            "ECSCREEN_CACHE_DIR": str(tmp_path / "cache")}
    full.pop("PYDANTIC_DISABLE_PLUGINS", None)
    full.pop("ECSCREEN_NO_CACHE", None)
    full.update(env or {})
    done = subprocess.run([sys.executable, "-c", CHECK_PROBE, "check", str(ship), "--format", "json"], env=full,
                          capture_output=True, text=True, timeout=600, check=False)
    line = next(x for x in done.stderr.splitlines() if x.startswith("MODULES="))
    return done.returncode, done.stdout, json.loads(line.split("=", 1)[1])


def test_check_imports_neither_importlib_metadata_nor_pycountry(tmp_path: Path) -> None:
    """A one-shipment check with lists reads no distribution metadata (cache keys read dist-info directory
    names; pydantic's plugin lookup is off in the CLI) and does not import pycountry (country codes come from
    pycountry's ISO table read directly): ~30 ms CPU less; the decision is unchanged."""
    cold = _check_modules(tmp_path)  # fills the caches (building the index may read more)
    code, out, mods = _check_modules(tmp_path)
    assert code == cold[0] == 1 and json.loads(out)["results"][0]["decision"] == "license_required"
    assert json.loads(out)["results"] == json.loads(cold[1])["results"]
    assert "importlib.metadata" not in mods and "pycountry" not in mods and "email.message" not in mods
    assert "pydantic.plugin._loader" in mods  # the stand-in
    assert "opencc" not in mods  # the packs' Han runs come simplified with the snapshot


def test_cli_keeps_a_pydantic_plugins_setting_of_the_user(tmp_path: Path) -> None:
    """PYDANTIC_DISABLE_PLUGINS set by the user: pydantic's own plugin loader runs as the user asked."""
    code, out, mods = _check_modules(tmp_path, {"PYDANTIC_DISABLE_PLUGINS": "some-plugin"})
    assert code == 1 and json.loads(out)["results"][0]["decision"] == "license_required"
    assert "importlib.metadata" in mods


def test_cli_stand_in_loader_finds_no_plugins() -> None:
    out = _run("import os, sys, ecscreen.cli\n"
               "from pydantic.plugin._loader import get_plugins\n"
               "print(os.environ['PYDANTIC_DISABLE_PLUGINS'], list(get_plugins()), 'importlib.metadata' in sys.modules)",
               drop=("PYDANTIC_DISABLE_PLUGINS",))
    assert out == "__all__ [] False"


def test_dist_version_reads_what_importlib_metadata_reads() -> None:
    from importlib import metadata

    from ecscreen.settings import dist_version

    for dist in ("pydantic", "pydantic-core", "PyYAML", "pycountry", "rapidfuzz", "numpy", "typer"):
        assert dist_version(dist) == metadata.version(dist)
    assert dist_version("no-such-distribution-xyz") == "?"


def test_iso_table_equals_pycountry() -> None:
    """The ISO 3166-1 records read from pycountry's file are pycountry's, in its order, found by the same
    (case-insensitive) code lookups."""
    import pycountry

    from ecscreen.domain import countries as C

    assert [(c.alpha_2, c.alpha_3, c.name, getattr(c, "common_name", None)) for c in pycountry.countries] == [
        (c.alpha_2, c.alpha_3, c.name, c.common_name) for c in C.iso_countries()]
    for c in pycountry.countries:
        for field in ("alpha_2", "alpha_3"):
            for code in (getattr(c, field), getattr(c, field).lower()):
                assert C._country_by(field, code) == C._country_by(field, code.upper())
                assert C._country_by(field, code).alpha_2 == pycountry.countries.get(**{field: code}).alpha_2
    assert C._country_by("alpha_2", "XX") is None and C._country_by("alpha_3", "ZZZ") is None


def test_iso_table_missing_falls_back_to_pycountry(monkeypatch: pytest.MonkeyPatch) -> None:
    from ecscreen.domain import countries as C

    monkeypatch.setattr(C, "_iso_rows", lambda: None)
    C._iso_index.cache_clear()
    try:
        assert C._country_by("alpha_2", "cn").alpha_3 == "CHN"
        assert any(c.alpha_2 == "DE" for c in C.iso_countries())
    finally:
        C._iso_index.cache_clear()


def test_snapshot_code_fingerprint_follows_every_source_write(tmp_path: Path) -> None:
    """The compiled-snapshot key stats the sources instead of reading them: a rewrite with the same size, a
    touch, a replacement by rename all give another key; an unchanged tree the same key."""
    from ecscreen.settings import file_stamps

    src = tmp_path / "pkg"
    src.mkdir()
    f = src / "a.py"
    f.write_text("x = 1\n")
    first = file_stamps([f], src)
    assert file_stamps([f], src) == first and first.startswith(b"a.py\x00")
    st = f.stat()
    f.write_text("x = 2\n")  # same size, new content, the old modification time put back
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))
    third = file_stamps([f], src)
    tmp = src / "a.tmp"
    tmp.write_text("x = 2\n")
    os.replace(tmp, f)
    fourth = file_stamps([f], src)
    assert len({first, third, fourth}) == 3  # the change time (and for the rename, the inode) moved
    assert file_stamps([src / "gone.py"], src).endswith(b"missing\x00")


def test_lazy_dict_table_lookups_equal_the_dict(monkeypatch: pytest.MonkeyPatch) -> None:
    """A packed dict read back finds its keys through the stored table without decoding the key list (loading
    the index no longer decodes ~57,000 keys and builds their dicts); every answer equals the dict's, for
    present and absent keys of every stored type; past TABLE_LOOKUPS lookups the key dict is built, same answers."""
    from ecscreen.parties import indexcache as IC

    d: dict[object, object] = {f"w{i}": [i, f"x{i}"] for i in range(3000)}
    d.update({("ba", 4): (["bank"], [0]), ("ba", 5): [], "": "empty", "é中": 1, 7: "seven", ("t", ("u", 1)): 2})
    probes: list[object] = [*d, "w3000", ("ba", 6), "zz", 8, ("t", ("u", 2)), True, 1.5]
    for limit in (IC.TABLE_LOOKUPS, 10):
        monkeypatch.setattr(IC, "TABLE_LOOKUPS", limit)
        lazy = IC.unpack_dict(IC.pack_dict(d))
        assert lazy._keys is None  # nothing decoded on load
        for k in probes:
            assert (k in lazy) == (k in d), k
            assert lazy.get(k, "none") == d.get(k, "none"), k
        if limit == 10:
            assert lazy._pos is not None  # switched to the dict
        assert len(lazy) == len(d) and list(lazy) == list(d) and lazy == d
    pickled = IC.unpack_pickled(IC.pack_pickled({"b": [1], "a": 2}))
    assert pickled["a"] == 2 and "c" not in pickled and pickled._keys is None


def test_lazy_dict_damaged_table_is_rejected() -> None:
    from ecscreen.parties import indexcache as IC

    kind, keys, offs, vals, table = IC.pack_dict({"a": 1, "b": 2})
    for bad in ((table[0][:-8], table[1], table[2]), (table[0], table[1][:-8], table[2]),
                (table[0], table[1], table[2][:-1]), (b"", table[1], table[2]), "x"):
        with pytest.raises(ValueError):
            IC.unpack_dict((kind, keys, offs, vals, bad))
    with pytest.raises(ValueError):
        IC.unpack_dict((kind, keys, offs, vals))  # the format before the table


def test_packed_texts_behave_like_the_list() -> None:
    import pickle

    from ecscreen.parties import indexcache as IC

    texts = ["Huawei Technologies Co., Ltd.", "", "华为技术有限公司", "Österreich \udcff", "x" * 300]
    packed = IC.unpack_texts(IC.pack_texts(texts))
    assert len(packed) == 5 and list(packed) == texts and packed == texts and packed[-3] == texts[-3]
    assert packed[1:4] == texts[1:4] and packed[::2] == texts[::2]
    assert pickle.loads(pickle.dumps(packed)) == texts and type(pickle.loads(pickle.dumps(packed))) is list
    with pytest.raises(IndexError):
        packed[5]
    marker, offs, blob = IC.pack_texts(texts)
    for bad in ((marker, offs[:-8], blob), (marker, offs, blob[:-1]), ("other", offs, blob), (marker, offs)):
        with pytest.raises(ValueError):
            IC.unpack_texts(bad)


def test_loaded_index_has_the_built_alias_texts(tmp_path: Path) -> None:
    from ecscreen.parties import matching as M
    from ecscreen.parties.indexcache import PackedTexts
    from ecscreen.parties.store import load_default

    entries = load_default().entries[:1500]
    built = M.Matcher(entries, cache_key="r3-texts", cache_dir=tmp_path)
    loaded = M.Matcher(entries, cache_key="r3-texts", cache_dir=tmp_path)
    assert built.cache_status == "saved" and loaded.cache_status == "loaded"
    assert isinstance(loaded.alias_text, PackedTexts) and loaded.alias_text == built.alias_text
    for q in ("Huawei Technologies", "Rosoboronexport", "Islamic Revolutionary Guard Corps"):
        assert [h.model_dump() for h in loaded.search(q, threshold=60)] == [
            h.model_dump() for h in built.search(q, threshold=60)]


@pytest.mark.parametrize(("module", "name", "original"), [
    ("ecscreen.parties.matching", "_HAN_TEXT", "[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]"),
    ("ecscreen.domain.textmatch", "_CJK", "[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff]"),
    ("ecscreen.domain.normalize", "_HAN_RUN", "[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+"),
])
def test_cjk_patterns_match_what_the_three_range_classes_matched(module: str, name: str, original: str) -> None:
    """The CJK character classes are written as alternations of two-range classes (compiled without the 64K
    bitmap, ~2 ms each at start-up): every character, and every run in mixed text, as the original class."""
    import importlib
    import random
    import re

    new = getattr(importlib.import_module(module), name)
    old = re.compile(original)
    for i in range(0x10000):
        c = chr(i)
        assert bool(old.fullmatch(c)) == bool(new.fullmatch(c)), hex(i)
    pool = "\u3400\u4dbf\u4dc0\u4e00\u9fff\ua000\uf8ff\uf900\ufaff\ufb00ab 华为技術\u3041\u30ff\U00020000"
    rnd = random.Random(10)
    for _ in range(3000):
        s = "".join(rnd.choice(pool) for _ in range(rnd.randint(0, 14)))
        assert [m.span() for m in old.finditer(s)] == [m.span() for m in new.finditer(s)], s


def test_english_words_packed_set_equals_the_word_list(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The English word list read back from the derived cache answers membership through the packed table
    (no word decoded) and is the parsed list: every word in, other words out, equal as a set."""
    from importlib import resources

    from ecscreen.parties import matching as M
    from ecscreen.parties.indexcache import PackedSet

    monkeypatch.setenv("ECSCREEN_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("ECSCREEN_NO_CACHE", raising=False)
    words = M._parse_english_words(resources.files("ecscreen").joinpath("data", "english_words.txt").read_bytes())
    try:
        for _ in range(2):  # written, then read
            M.english_words.cache_clear()
            got = M.english_words()
            assert isinstance(got, PackedSet)
            assert all(w in got for w in list(words)[::37]) and "qzxjvw" not in got and 7 not in got
            assert got._members._keys is None  # membership decoded no word
            assert got == words and len(got) == len(words) and got & {"the", "qzxjvw"} == words & {"the", "qzxjvw"}
    finally:
        M.english_words.cache_clear()


def test_first_use_tables_cached_equal_the_built_ones(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The matcher's common words and their one-letter deletions come from the derived cache after the first
    process (keyed by the index code fingerprint and pycountry's version): equal to building them; no cache
    directory: built."""
    from ecscreen.parties import matching as M

    monkeypatch.setenv("ECSCREEN_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("ECSCREEN_NO_CACHE", raising=False)
    words, deletes = M._build_common_words(b""), M._build_common_deletes(b"")
    assert len(words) > 100 and len(deletes) > 100
    funcs = (M.common_words, M._common_deletes, M._table_words, M.common_typo)
    try:
        for _ in range(2):  # written, then read
            for f in funcs:
                f.cache_clear()
            assert M.common_words() == words
            got = M._common_deletes()
            assert dict(got.items()) == deletes and got.get("zzzzzq") is None
            assert M.common_typo("technoeogies") == "technology" and M.common_typo("internetional") == "international"
        assert {p.name.split("-")[0] for p in tmp_path.glob("derived-*.bin")} == {"derived"}
        assert len(list(tmp_path.glob("derived-*.bin"))) >= 2
        monkeypatch.setenv("ECSCREEN_NO_CACHE", "1")
        for f in funcs:
            f.cache_clear()
        assert M.common_words() == words and M._common_deletes() == deletes
    finally:
        for f in funcs:
            f.cache_clear()


def test_nickname_table_seeded_from_the_cache_equals_the_built_one(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A matcher loaded from the index cache hands normalize the nickname table from the derived cache; the
    table and the nickname expansions are those built from nicknames.csv."""
    from ecscreen.domain import normalize as N
    from ecscreen.parties import matching as M
    from ecscreen.parties.indexcache import LazyDict
    from ecscreen.parties.store import load_default

    monkeypatch.setenv("ECSCREEN_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("ECSCREEN_NO_CACHE", raising=False)
    built = N._build_nicknames()
    entries = load_default().entries[:1200]
    try:
        M.Matcher(entries, cache_key="r3-nick", cache_dir=tmp_path)  # saved (no seeding on a build)
        N._nicknames.cache_clear()
        N._SEEDS.clear()
        loaded = M.Matcher(entries, cache_key="r3-nick", cache_dir=tmp_path)
        assert loaded.cache_status == "loaded"
        table = N._nicknames()
        assert isinstance(table, LazyDict) and dict(table.items()) == built
        assert N.given_name_forms("ted") == built.get("ted") and N.given_name_forms("zzqx") == frozenset()
    finally:
        N._nicknames.cache_clear()
        N._SEEDS.clear()


def test_snapshot_carries_the_packs_han_runs_simplified(tmp_path: Path) -> None:
    """The compiled snapshot stores the simplified form of every Han run of the packs' texts, as OpenCC gives
    it; loading the snapshot seeds them, and the phrase matcher prepares pack texts to the same strings."""
    from ecscreen.domain import normalize as N
    from ecscreen.domain.textmatch import prepare
    from ecscreen.engine import snapshot as S
    from ecscreen.packs.registry import load_registry

    reg = load_registry(None)
    runs = S._han_runs_simplified(reg)
    assert len(runs) > 20
    t2s = N._t2s()
    for run, simple in runs.items():
        out = t2s.convert(run)
        assert simple == (out if len(out) == len(run) else run), run
    texts: list[str] = []
    for lp in reg.packs:
        S._pack_texts(lp.model, texts)
    before = [prepare(t) for t in texts]
    N._SIMPLIFIED_SEED.clear()
    N._simplified.cache_clear()
    try:
        loaded = S.load_registry_snapshot(cache_dir=tmp_path)  # written (and seeded from the registry)
        N._SIMPLIFIED_SEED.clear()
        loaded = S.load_registry_snapshot(cache_dir=tmp_path)  # read: seeds
        assert [p.info for p in loaded.packs] == [p.info for p in reg.packs]
        assert runs == N._SIMPLIFIED_SEED
        N._simplified.cache_clear()
        assert [prepare(t) for t in texts] == before
    finally:
        N._SIMPLIFIED_SEED.clear()
        N._simplified.cache_clear()


def test_party_lists_pack_cached_equals_validated_and_errors_still_name_the_place(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The party_lists pack comes from the derived cache after the first process (keyed by its path and text,
    the sources' stamps, pydantic's version): equal to validating the file; a changed file is validated again;
    an invalid one still fails with file and line, and nothing is cached for it."""
    from ecscreen.errors import PackError
    from ecscreen.packs.registry import default_rules_dir
    from ecscreen.parties import screening as S

    monkeypatch.setenv("ECSCREEN_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("ECSCREEN_NO_CACHE", raising=False)
    src = default_rules_dir() / "us-ear" / "party-lists.yaml"
    own = tmp_path / "party-lists.yaml"
    own.write_text(src.read_text(encoding="utf-8"), encoding="utf-8")
    reference = S._validate_file(S.PartyListsPack, own, PackError)
    try:
        for _ in range(2):  # written, then read
            S._load_pack_cached.cache_clear()
            assert S.load_pack(own) == reference
        assert list((tmp_path / "cache").glob("derived-*.bin"))
        text = own.read_text(encoding="utf-8")
        own.write_text(text.replace("threshold:", "threshold: 91 #", 1) if "threshold:" in text else text + "\n",
                       encoding="utf-8")
        S._load_pack_cached.cache_clear()
        assert S.load_pack(own) == S._validate_file(S.PartyListsPack, own, PackError)
        own.write_text("kind: party_lists\nno_such_field: 1\n", encoding="utf-8")
        files = set((tmp_path / "cache").glob("derived-*.bin"))
        S._load_pack_cached.cache_clear()
        with pytest.raises(PackError) as err:
            S.load_pack(own)
        assert err.value.file == str(own) and err.value.line is not None
        assert set((tmp_path / "cache").glob("derived-*.bin")) == files
    finally:
        S._load_pack_cached.cache_clear()
