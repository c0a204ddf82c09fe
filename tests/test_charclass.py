"""ecscreen.domain.charclass: the CJK character classes read without compiling a regex (issue 10, h29).

Every answer (search, match, fullmatch, findall, finditer, sub) is compared with the regular expression the
class replaces, on every BMP character and on random mixed texts.
"""

from __future__ import annotations

import random
import re

import pytest

from ecscreen.domain import normalize, textmatch
from ecscreen.domain.charclass import CharClass

REPLACED = [  # (module, name, the regular expression it was)
    (normalize, "_HAN_RUN", r"(?:[\u3400-\u4dbf\u4e00-\u9fff]|[\uf900-\ufaff])+"),
    (normalize, "_CJK_CHAR", "[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af]"),
    (textmatch, "_CJK_RUN", r"[\u3400-\u9fff\uf900-\ufaff]+"),
    (textmatch, "_CJK", r"(?:[\u3040-\u30ff\u3400-\u9fff]|[\uf900-\ufaff])"),
]
POOL = ("\u3040\u303f\u30ff\u3100\u33ff\u3400\u4dbf\u4dc0\u4dff\u4e00\u9fff\ua000\uabff\uac00\ud7af\ud7b0"
        "\uf8ff\uf900\ufaff\ufb00ab 1.-华为技術ファーウェイ株式会社\U00020000\U0002f800é")


def _span(m: object) -> tuple[int, int] | None:
    return None if m is None else m.span()  # type: ignore[attr-defined]


@pytest.mark.parametrize(("module", "name", "pattern"), REPLACED, ids=[r[1] for r in REPLACED])
def test_char_class_answers_as_the_regex_it_replaces(module: object, name: str, pattern: str) -> None:
    """Regression (issue 10): these were regexes whose compilation (a 64K map filled in pure Python) was
    ~7 ms CPU of every check; the replacement must give every answer the regex gave."""
    new = getattr(module, name)
    old = re.compile(pattern)
    assert isinstance(new, CharClass)
    for i in range(0x10000):
        c = chr(i)
        assert (old.fullmatch(c) is None) == (new.fullmatch(c) is None), hex(i)
    rnd = random.Random(29)
    texts = ["", "ascii only", "华为", "Huawei 华为技術 co", "ファーウェイ株式会社", "\u4dbf\u4dc0\u4e00"]
    texts += ["".join(rnd.choice(POOL) for _ in range(rnd.randint(0, 16))) for _ in range(4000)]
    for s in texts:
        assert _span(old.search(s)) == _span(new.search(s)), s
        assert _span(old.match(s)) == _span(new.match(s)), s
        assert _span(old.fullmatch(s)) == _span(new.fullmatch(s)), s
        assert old.findall(s) == new.findall(s), s
        assert [m.span() for m in old.finditer(s)] == [m.span() for m in new.finditer(s)], s
        assert [m.group(0) for m in old.finditer(s)] == [m.group(0) for m in new.finditer(s)], s
        assert old.sub("", s) == new.sub("", s), s
        assert old.sub(lambda m: f"<{m.group(0)}>", s) == new.sub(lambda m: f"<{m.group(0)}>", s), s


def test_char_class_compiles_no_regex_at_import() -> None:
    """The modules' CJK classes are built without ``re`` (a fresh interpreter: none of the large classes is
    in re's cache after importing them)."""
    import subprocess
    import sys

    code = ("import re, ecscreen.domain.normalize, ecscreen.domain.textmatch\n"
            "big = [k for k in re._cache if isinstance(k[1], str) and ('\\u9fff' in k[1] or '\\\\u9fff' in k[1])]\n"
            "print(len(big))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "0"


def test_char_class_rejects_ascii_ranges() -> None:
    """Its ASCII shortcut (no match in ASCII text) holds only for classes above U+007F."""
    with pytest.raises(ValueError):
        CharClass((("a", "z"),))
    with pytest.raises(ValueError):
        CharClass((("\u4e00", "\u3400"),))
