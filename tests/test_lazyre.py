"""LazyPattern: module-level regexes compiled on first use (issue 10, start-up), behaving as re.compile's."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from ecscreen.domain.lazyre import LazyPattern
from ecscreen.parties import variants


def test_lazy_pattern_compiles_on_first_use_and_behaves_as_re() -> None:
    lazy = LazyPattern(r"(\w)\1+", re.I)
    assert "search" not in vars(lazy)  # nothing compiled yet
    eager = re.compile(r"(\w)\1+", re.I)
    text = "bOokkeeper Aardvark"
    assert lazy.sub(r"\1", text) == eager.sub(r"\1", text)
    assert "search" in vars(lazy)  # compiled once, methods kept on the instance
    assert [m.span() for m in lazy.finditer(text)] == [m.span() for m in eager.finditer(text)]
    assert lazy.findall(text) == eager.findall(text)
    assert lazy.search(text).group(0) == eager.search(text).group(0)  # type: ignore[union-attr]
    assert lazy.fullmatch("aa") is not None and lazy.match("xa") is None
    assert lazy.split("xaay") == eager.split("xaay")
    assert (lazy.pattern, lazy.flags, lazy.groups) == (eager.pattern, eager.flags, eager.groups)


def test_lazy_pattern_errors_and_dunders() -> None:
    bad = LazyPattern("(unclosed")
    with pytest.raises(re.error):
        bad.search("x")
    with pytest.raises(AttributeError):
        bad.__wrapped__  # noqa: B018 - dunder probes (copy, pickle, inspect) never compile
    assert "unclosed" in repr(bad)


def test_every_lazy_pattern_of_variants_compiles() -> None:
    lazy = {k: v for k, v in vars(variants).items() if isinstance(v, LazyPattern)}
    assert len(lazy) >= 20
    for name, p in lazy.items():
        src, flags = vars(p)["_source"]
        assert p.pattern == src and p.flags == re.compile(src, flags).flags, name


def test_import_of_variants_compiles_no_lazy_pattern() -> None:
    """A fresh interpreter importing the variants compiles none of its lazy patterns (only at first use)."""
    script = (
        "from ecscreen.parties import variants\n"
        "from ecscreen.domain.lazyre import LazyPattern\n"
        "ps = [v for v in vars(variants).values() if isinstance(v, LazyPattern)]\n"
        "print(len(ps), sum('search' in vars(p) for p in ps))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=os.environ.copy(),
                         check=True)
    n, compiled = map(int, out.stdout.split())
    assert n >= 20 and compiled == 0


def test_han_text_pattern_is_lazy_and_unchanged() -> None:
    """parties.matching's Han-script test is compiled on first use (~1.8 ms of large character ranges) and
    matches exactly what the eager pattern matched; ASCII names never need it (Matcher.normalized)."""
    from ecscreen.parties import matching

    eager = re.compile("(?:[\u3400-\u4dbf\u4e00-\u9fff]|[\uf900-\ufaff])")
    for text in ["Huawei Technologies Co., Ltd.", "华为技术有限公司", "Zhong 中 Xing", "\u3400", "\u4dbf", "\u4dc0",
                 "\uf900", "\ufaff", "\ufb00", "\u9fff", "\ua000", "ｈｕａｗｅｉ", ""]:
        assert bool(matching._HAN_TEXT.search(text)) == bool(eager.search(text)), text
        if text.isascii():
            assert not eager.search(text)
    script = ("import ecscreen.parties.matching as m\n"
              "print('search' in vars(m._HAN_TEXT))\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=os.environ.copy(),
                         check=True)
    assert out.stdout.strip() == "False"
