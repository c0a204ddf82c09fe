"""Fuzz every list reader: random, truncated and corrupted files give a clean ListError (file named,
one message) or a non-empty list whose recorded entry count is true; never a traceback, never a
silently empty list. Fixed seed (derandomize) and a bounded number of examples: runs in seconds."""

from __future__ import annotations

import gzip
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ecscreen.parties import store as L
from ecscreen.parties.store import ListError, read_list

FIX = Path(__file__).parent / "fixtures" / "lists"

# (file name the reader sees, fixture it is mutated from)
FORMATS = [
    ("consolidated.csv", FIX / "csl_sample.csv"),
    ("addresses.csv", FIX / "csl_addresses.csv"),
    ("official.json", FIX / "csl_official_subset.json"),
    ("compact.json", FIX / "csl_compact_subset.json"),
    ("sdn.csv", FIX / "ofac" / "sdn.csv"),
    ("add.csv@sdn.csv", FIX / "ofac" / "add.csv"),
    ("cons_prim.csv", FIX / "ofac_hk" / "sdn.csv"),
    ("un.xml", FIX / "un_subset.xml"),
    ("own.yaml", FIX / "own_parties.yaml"),
    ("own.csv", FIX / "own_parties.csv"),
]

SETTINGS = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@st.composite
def mutated(draw: st.DrawFn, original: bytes) -> bytes:
    kind = draw(st.sampled_from(["truncate", "flip", "insert", "delete", "random", "header-only", "dup"]))
    data = bytearray(original)
    if kind == "truncate":
        return bytes(data[: draw(st.integers(0, len(data)))])
    if kind == "flip":
        for _ in range(draw(st.integers(1, 8))):
            i = draw(st.integers(0, len(data) - 1))
            data[i] = draw(st.integers(0, 255))
        return bytes(data)
    if kind == "insert":
        i = draw(st.integers(0, len(data)))
        junk = draw(st.sampled_from([b"\x00", b'"', b"\r", b"\n", b",,,,", b"<", b"]]>", b"{", b"\xff\xfe", b"- ", b": "]))
        return bytes(data[:i]) + junk * draw(st.integers(1, 4)) + bytes(data[i:])
    if kind == "delete":
        i = draw(st.integers(0, len(data)))
        j = draw(st.integers(i, min(len(data), i + 400)))
        return bytes(data[:i] + data[j:])
    if kind == "header-only":
        return bytes(data.split(b"\n", 1)[0] + b"\n")
    if kind == "dup":
        return bytes(data) + bytes(data)
    return draw(st.binary(min_size=0, max_size=600))


def _check(path: Path) -> None:
    try:
        sl = read_list(path)
    except ListError as exc:
        assert exc.file and exc.message and "\n" not in exc.message.strip()
        return
    assert sl.entries, "a list read without error must not be empty"
    assert sl.info.entries == len(sl.entries)
    assert all(e.name.strip() for e in sl.entries)


@pytest.mark.parametrize(("name", "fixture"), FORMATS, ids=[f[0] for f in FORMATS])
def test_reader_fuzz(name: str, fixture: Path) -> None:
    original = fixture.read_bytes()

    @SETTINGS
    @given(blob=mutated(original))
    def run(blob: bytes) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            d = Path(tmp)
            if "@" in name:  # mutate a companion file of the OFAC set
                companion, main = name.split("@")
                for f in ("sdn.csv", "alt.csv", "add.csv"):
                    shutil.copy(FIX / "ofac" / f, d / f)
                (d / companion).write_bytes(blob)
                _check(d / main)
            else:
                (d / name).write_bytes(blob)
                _check(d / name)

    run()


def test_stored_list_fuzz(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ECSCREEN_HOME", str(tmp_path / "home"))
    sl, _ = L.import_list(FIX / "own_parties.yaml", "fuzz")
    stored = Path(sl.path or "").read_bytes()
    plain = gzip.decompress(stored)

    @SETTINGS
    @given(blob=mutated(stored), inner=mutated(plain), which=st.booleans())
    def run(blob: bytes, inner: bytes, which: bool) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            p = Path(tmp) / "fuzz.json.gz"
            p.write_bytes(blob if which else gzip.compress(inner))
            _check(p)

    run()
