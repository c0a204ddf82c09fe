"""Issue 10, stop 26 (h55): start-up costs of a one-shipment check removed without changing any answer or
letting a cache serve a stale result."""

from __future__ import annotations

import mmap
import os
import shutil
import time
from pathlib import Path

import pytest

from ecscreen import settings
from ecscreen.parties import matching as M
from ecscreen.parties import store as L


def test_package_file_is_the_package_directory_s_file() -> None:
    """Package data is read from the package directory by path (no importlib.resources and zipfile imports),
    the same bytes importlib.resources reads."""
    from importlib import resources

    f = settings.package_file("data", "business_words.txt")
    assert isinstance(f, Path)
    assert f.read_bytes() == resources.files("ecscreen").joinpath("data", "business_words.txt").read_bytes()
    assert Path(str(settings.package_file("rules"))) == Path(str(resources.files("ecscreen"))) / "rules"
    assert settings.package_file("resources", "country-aliases.yaml").is_file()


def test_package_file_falls_back_to_importlib_resources(monkeypatch: pytest.MonkeyPatch) -> None:
    """A package that is not a directory on disk (a zip import) is read through importlib.resources."""
    from importlib import resources

    asked: list[str] = []
    files = resources.files

    def spy(package: str) -> object:
        asked.append(package)
        return files(package)

    monkeypatch.setattr(resources, "files", spy)
    monkeypatch.setattr(settings, "_package_on_disk", lambda: False)
    f = settings.package_file("data", "branch_words.txt")
    assert asked == ["ecscreen"]
    assert f.read_text(encoding="utf-8") == (Path(settings._PACKAGE_DIR) / "data" / "branch_words.txt").read_text(
        encoding="utf-8")


def test_settled_stamp_follows_the_file_and_refuses_a_fresh_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                                 ) -> None:
    """The embedded list's decoded form is keyed by the file's state: a file changed less than
    settings.RACY_SECONDS ago has none (its bytes key the cache: a rewrite within the file system's timestamp
    granularity could keep its times); a rewrite of a settled file gives another stamp."""
    f = tmp_path / "list.json.gz"
    f.write_bytes(b"x" * 10)
    assert L._settled_stamp(f) is None  # just written
    later = time.time_ns() + 10**10
    monkeypatch.setattr(time, "time_ns", lambda: later)
    first = L._settled_stamp(f)
    assert first is not None and L._settled_stamp(f) == first
    assert L._stamped_state(first)[0] == 10  # type: ignore[index]
    f.write_bytes(b"y" * 10)  # same size, new content
    tmp = tmp_path / "new"
    tmp.write_bytes(b"y" * 10)
    os.replace(tmp, f)  # and replaced by rename
    second = L._settled_stamp(f)
    assert second is not None and second != first
    assert L._settled_stamp(tmp_path / "missing") is None


def test_default_list_cache_key_follows_the_embedded_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keyed by a stamp, the decoded-list cache is read without reading the list; another stamp (the file
    changed) is another key, so a changed list is decoded again, never served from the old file; a small list
    is not cached; without a stamp the bytes key it as before."""
    raw = settings.package_file("data", L.DEFAULT_LIST_FILE).read_bytes()
    reads: list[int] = []

    def read() -> bytes:
        reads.append(1)
        return raw

    stamp = b"list.json.gz\x00" + f"{len(raw)}|1|2|3".encode() + b"\x00"
    cold = L._decode_store(read, "embedded", cache_dir=tmp_path, stamp=stamp)
    assert reads == [1]
    warm = L._decode_store(read, "embedded", cache_dir=tmp_path, stamp=stamp)
    assert reads == [1], "served from the cache without reading the file"
    assert warm.info == cold.info and warm.entries[5] == cold.entries[5]
    key = L._list_cache_target(read, tmp_path, stamp)
    other = L._list_cache_target(read, tmp_path, stamp.replace(b"|3", b"|4"))
    assert key is not None and other is not None and key[1] != other[1]
    assert key[1] != L._list_cache_target(raw, tmp_path)[1]  # type: ignore[index]
    L._decode_store(read, "embedded", cache_dir=tmp_path, stamp=stamp.replace(b"|3", b"|4"))
    assert reads == [1, 1], "another state of the file: read and decoded again"
    small = b"s.json.gz\x00" + b"10|1|2|3\x00"
    assert L._list_cache_target(read, tmp_path, small) is None
    assert L._list_cache_target(read, tmp_path, b"s.json.gz\x00missing\x00") is None


def _data_copy(tmp_path: Path) -> Path:
    """A copy of the package's data directory, for changing its files."""
    data = tmp_path / "data"
    shutil.copytree(Path(settings._PACKAGE_DIR) / "data" / "normalize", data / "normalize")
    for name in ("business_words.txt", M.BACKGROUND_FILE):
        shutil.copy2(Path(settings._PACKAGE_DIR) / "data" / name, data / name)
    return data


def test_index_code_fingerprint_follows_every_data_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The party index key stats the normalisation tables, the common words and the background frequencies
    instead of reading them: a change to any of them (the same size included) gives another key."""
    data = _data_copy(tmp_path)
    monkeypatch.setattr(M, "package_file", lambda *parts: Path(tmp_path, *parts))
    before = M._code_fingerprint.__wrapped__(True)
    assert M._code_fingerprint.__wrapped__(True) == before
    without_bg = M._code_fingerprint.__wrapped__(False)
    keys = {before, without_bg}
    for f in (data / "normalize" / "abbreviations.txt", data / "business_words.txt", data / M.BACKGROUND_FILE):
        text = f.read_bytes()
        tmp = f.with_name(f.name + ".new")
        tmp.write_bytes(text[:-1] + (b"x" if text[-1:] != b"x" else b"y"))  # same size, new content
        os.replace(tmp, f)
        key = M._code_fingerprint.__wrapped__(True)
        assert key not in keys
        keys.add(key)
    (data / "normalize" / "new_table.txt").write_text("a\n")
    assert M._code_fingerprint.__wrapped__(True) not in keys


def test_index_code_fingerprint_reads_the_files_where_the_package_is_not_on_disk(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Outside a directory (a zip import: no file states) the files' bytes key the index, as before."""
    data = _data_copy(tmp_path)

    class _Traversable:
        """A stand-in for importlib.resources' Traversable of a zip import (not a Path)."""

        def __init__(self, path: Path) -> None:
            self.path = path
            self.name = path.name

        def joinpath(self, *parts: str) -> _Traversable:
            return _Traversable(self.path.joinpath(*parts))

        def iterdir(self) -> list[_Traversable]:
            return [_Traversable(p) for p in self.path.iterdir()]

        def is_file(self) -> bool:
            return self.path.is_file()

        def read_bytes(self) -> bytes:
            return self.path.read_bytes()

    monkeypatch.setattr(M, "package_file", lambda *parts: _Traversable(Path(tmp_path, *parts)))
    before = M._code_fingerprint.__wrapped__(True)
    f = data / "business_words.txt"
    st = f.stat()
    f.write_bytes(f.read_bytes() + b"\n")
    assert M._code_fingerprint.__wrapped__(True) != before
    f.write_bytes(f.read_bytes()[:-1])
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert M._code_fingerprint.__wrapped__(True) == before  # the same bytes, the same key


def test_snapshot_large_tables_are_read_in_place(tmp_path: Path) -> None:
    """The compiled snapshot's large keyed tables (the CCL's entries) are stored out of band: read back as
    slices of the mapped file (not copied on every load), each value equal to the one loaded from the YAML."""
    from ecscreen.engine.snapshot import load_registry_snapshot

    cold = load_registry_snapshot(cache_dir=tmp_path)
    warm = load_registry_snapshot(cache_dir=tmp_path)
    ccl_cold = next(lp.model for lp in cold.packs if getattr(lp.model, "kind", None) == "ccl")
    ccl_warm = next(lp.model for lp in warm.packs if getattr(lp.model, "kind", None) == "ccl")
    blob = ccl_warm.entries._blob  # type: ignore[attr-defined]
    assert isinstance(blob, memoryview) and isinstance(blob.obj, mmap.mmap)
    assert ccl_warm.entries.get("3A090") == ccl_cold.entries["3A090"]  # type: ignore[attr-defined]
    assert dict(ccl_warm.entries) == ccl_cold.entries  # type: ignore[attr-defined]


def test_derived_packed_tables_are_read_in_place(tmp_path: Path) -> None:
    """A derived value holding a packed table (the background frequencies: ``(count, packed dict)``) is stored
    with the table out of band: read back as slices of the mapped file, equal to the built value."""
    from ecscreen.parties.derived import cached
    from ecscreen.parties.indexcache import pack_dict, unpack_dict

    table = {f"word{i}": i for i in range(5000)}

    def build(source: bytes) -> tuple[int, object]:
        return len(source), pack_dict({f"word{i}": i for i in range(5000)})

    def valid(v: object) -> bool:
        return type(v) is tuple and len(v) == 2

    cold = cached("probe-packed", b"source", build, valid, tmp_path)
    warm = cached("probe-packed", b"source", build, valid, tmp_path)
    assert cold[0] == warm[0] == 6
    assert isinstance(warm[1][3], memoryview) and isinstance(warm[1][3].obj, mmap.mmap)  # type: ignore[index]
    assert dict(unpack_dict(warm[1])) == dict(unpack_dict(cold[1])) == table
    assert cached("probe-packed", b"other source", build, valid, tmp_path)[0] == 12  # another key, rebuilt


def test_places_come_from_the_derived_cache_keyed_by_the_code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                              ) -> None:
    """The country-name words are built once per cache directory (normalising ~250 names per process was ~3 ms of
    a check), equal to the words built from the tables; another code/table key (_first_use_key) builds them
    again into another file, never reading the old one."""
    monkeypatch.setattr(M, "index_cache_dir", lambda: tmp_path)
    built = M._build_places(b"")
    assert "china" in built and "shanghai" in built
    assert M._places.__wrapped__() == built  # built and saved
    first = set(tmp_path.glob("derived-*.bin"))
    assert len(first) == 1
    assert M._places.__wrapped__() == built  # read back
    monkeypatch.setattr(M, "_first_use_key", lambda: b"another code state")
    assert M._places.__wrapped__() == built
    assert len(set(tmp_path.glob("derived-*.bin")) - first) == 1
    monkeypatch.setattr(M, "index_cache_dir", lambda: None)
    monkeypatch.setattr(M, "_first_use_key", lambda: None)
    assert M._places.__wrapped__() == built  # no cache directory: built in the process


def test_wade_giles_table_from_the_derived_cache_keyed_by_its_source(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """pypinyin's Wade-Giles table is parsed from its source once per cache directory (the literal's parse was
    ~3 ms of a check): the same table as pypinyin's own, and a changed source text is parsed again, never
    served from the old file."""
    from importlib.util import find_spec

    from ecscreen.parties import variants as V
    from ecscreen.parties.derived import cached

    monkeypatch.setattr(M, "index_cache_dir", lambda: tmp_path)
    table = V._wade_giles_source_table()
    assert list(tmp_path.glob("derived-*.bin")), "parsed and saved"
    assert V._wade_giles_source_table() == table  # read back
    from pypinyin.style.wadegiles import _convert_table

    assert table == [(str(a), str(b)) for a, b in _convert_table]
    spec = find_spec("pypinyin")
    assert spec is not None and spec.submodule_search_locations
    raw = (Path(list(spec.submodule_search_locations)[0]) / "style" / "wadegiles.py").read_bytes()
    changed = raw.replace(b"['ai', 'ai'],", b"['ai', 'zzai'],", 1)  # another spelling of one syllable
    assert changed != raw and ("ai", "ai") in table
    again = cached("wade-giles", changed, V._parse_wade_giles_source, V._valid_wade_giles, tmp_path)
    assert again is not None and ("ai", "zzai") in again and ("ai", "ai") not in again
    assert V._parse_wade_giles_source(b"no table here") is None


def test_warm_check_imports_no_resource_readers_nor_the_address_matcher(tmp_path: Path) -> None:
    """A warm one-shipment check whose parties give no address reads package data by path (no
    importlib.resources readers, no zipfile: ~3.4 ms), takes the Wade-Giles and country-word tables from the
    derived cache (no ast) and does not import the address matcher (~2 ms); the decision is unchanged."""
    import json
    import subprocess
    import sys

    probe = ("import json, sys\nfrom ecscreen.cli.main import main\nrc = main(sys.argv[1:])\n"
             "sys.stderr.write('MODULES=' + json.dumps(sorted(sys.modules)) + '\\n')\nsys.exit(rc)\n")
    ship = tmp_path / "ship.yaml"
    ship.write_text("id: S26\ndate: 2026-10-01\ndestination: CN\nparties:\n"
                    "  - {role: end_user, name: 'Huawei Technologies Co., Ltd.', country: CN}\n"
                    "items:\n  - {description: Data-center GPU accelerator, eccn: 3A090.a, origin: US}\n",
                    encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(Path(settings._PACKAGE_DIR).parent), "ECSCREEN_HOME": str(tmp_path / "home"),
           "ECSCREEN_CACHE_DIR": str(tmp_path / "cache")}
    # PYDANTIC_DISABLE_PLUGINS: the CLI sets it for itself (in-process CLI tests leave it set); inherited, the
    # child would take it for the user's and load pydantic's plugin lookup
    for name in ("ECSCREEN_NO_CACHE", "PYDANTIC_DISABLE_PLUGINS"):
        env.pop(name, None)

    def _check_modules() -> tuple[int, str, list[str]]:
        done = subprocess.run([sys.executable, "-c", probe, "check", str(ship), "--format", "json"], env=env,
                              capture_output=True, text=True, timeout=600, check=False)
        line = next(x for x in done.stderr.splitlines() if x.startswith("MODULES="))
        return done.returncode, done.stdout, json.loads(line.split("=", 1)[1])

    cold = _check_modules()  # fills the caches
    code, out, mods = _check_modules()
    assert code == cold[0] == 1 and json.loads(out)["results"] == json.loads(cold[1])["results"]
    assert "importlib.readers" not in mods and "zipfile" not in mods
    assert "ecscreen.parties.addresses" not in mods


def test_loaded_index_reads_its_words_packed(tmp_path: Path) -> None:
    """The party index cache stores its word list packed (read per index, not ~38,000 strings unpickled on
    every load): the loaded list equals the built one, and searches answer the same."""
    from ecscreen.parties.indexcache import PackedTexts
    from ecscreen.parties.matching import ListEntry, Matcher

    entries = [ListEntry(id=f"T-{i}", source="test", source_code="custom", name=n)
               for i, n in enumerate(["Acme Rocket Works", "Blue Falcon Trading", "Zenith Optics GmbH", "Ünal Kimya"])]
    cold = Matcher(entries, cache_key="stop26-vocab", cache_dir=tmp_path)
    warm = Matcher(entries, cache_key="stop26-vocab", cache_dir=tmp_path)
    assert cold.cache_status == "saved" and warm.cache_status == "loaded"
    assert isinstance(warm.vocab_list, PackedTexts) and list(warm.vocab_list) == list(cold.vocab_list)
    for q in ("Acme Rocket Works Ltd", "Zenit Optic", "Unal Kimya", "Nobody Here"):
        assert [(h.entry.id, h.score) for h in warm.search(q)] == [(h.entry.id, h.score) for h in cold.search(q)]
