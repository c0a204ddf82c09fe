import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ecscreen.errors import EcscreenError, InputFileError
from ecscreen.packs import yamlio


def test_lines_recorded():
    d = yamlio.loads("a: 1\nb:\n  - x\n  - y\n")
    assert d.key_lines == {"a": 1, "b": 2}
    assert d["b"].item_lines == [3, 4]


def test_python_tags_refused():
    with pytest.raises(InputFileError) as e:
        yamlio.loads("!!python/object/apply:os.system ['echo hi']", file="x.yaml")
    assert "x.yaml" in str(e.value)


def test_alias_bomb_refused():
    bomb = "a: &a [1,1,1,1,1,1,1,1,1]\n" + "".join(
        f"{c}: &{c} [{','.join(['*' + p] * 9)}]\n" for p, c in zip("abcdefghi", "bcdefghij", strict=True)
    )
    with pytest.raises(InputFileError, match="aliases"):
        yamlio.loads(bomb)


def test_duplicate_keys_refused():
    with pytest.raises(InputFileError) as e:
        yamlio.loads("a: 1\nb: 2\na: 3\n", file="d.yaml")
    assert e.value.line == 3 and "duplicate key" in e.value.message


def test_size_cap(tmp_path):
    p = tmp_path / "big.yaml"
    p.write_text("a: " + "x" * 2000)
    with pytest.raises(InputFileError, match="limit"):
        yamlio.load_file(p, max_bytes=1000)


def test_bad_yaml_names_line():
    with pytest.raises(InputFileError) as e:
        yamlio.loads("a: [1, 2\nb: 3\n", file="f.yaml")
    assert e.value.file == "f.yaml" and e.value.line


def test_not_utf8(tmp_path):
    p = tmp_path / "l1.yaml"
    p.write_bytes(b"a: \xff\xfe\n")
    with pytest.raises(InputFileError, match="UTF-8"):
        yamlio.load_file(p)


@settings(max_examples=200)
@given(st.text(max_size=200))
def test_parser_total(text):
    """Any text either parses or raises a clean EcscreenError - never another exception."""
    with contextlib.suppress(EcscreenError):
        yamlio.loads(text)
