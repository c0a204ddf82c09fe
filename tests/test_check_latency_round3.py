"""Check-path latency, third round (issue 10): caches that hit across processes, and what a check no longer imports."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SRC = str(Path(__file__).resolve().parents[1] / "src")


def _run(code: str, env: dict[str, str] | None = None) -> str:
    full = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", ""), **(env or {})}
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
