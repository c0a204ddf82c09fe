"""Safe rendering and caches (issue 12, "Packs, output, exit codes"): data can neither drive the
terminal, nor crash rich, nor break JUnit XML or markdown; a FIFO at a cache path cannot hang."""

from __future__ import annotations

import datetime as dt
import io
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from rich.console import Console

from ecscreen.cli.main import main
from ecscreen.engine.core import Engine
from ecscreen.outputs.render import clean
from ecscreen.outputs.reporters import render_gate, to_junit, to_markdown
from ecscreen.packs.registry import load_registry
from ecscreen.runners.gate import run_gate

ROOT = Path(__file__).resolve().parents[1]
PACKS = [ROOT / "rules" / "us-ear" / n for n in ("country-groups.yaml", "embargoes.yaml", "advanced-computing.yaml")]
RULES = [a for p in PACKS for a in ("--rules-only", str(p))]
ANSI = "\x1b[2K\x1b[1A\x1b[31m"
BIDI = "\u202e\u2066"
EVIL_SKU = f"GPU[/]{ANSI}[bold]x{BIDI}`![img](http://e/x.png) @octocat <b>hi</b>\x01\x0b"


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine.build(load_registry(PACKS), use_lists=False, today=dt.date.today())


def _catalog(tmp_path: Path) -> Path:
    p = tmp_path / "catalog.csv"
    p.write_text("sku,description,eccn,origin,markets,param_tpp\n"
                 f"\"{EVIL_SKU}\",Data-center GPU,3A090.a,US,CN,5200\n"
                 "PLC-1,PLC,EAR99,US,DE,\n", encoding="utf-8")
    return p


def test_clean_strips_controls_and_bidi_keeps_text():
    assert clean(f"Acme{ANSI} Ltd{BIDI}\nline\ttab") == "Acme[2K[1A[31m Ltd line tab"
    assert clean("Müller 株式会社") == "Müller 株式会社"


def test_gate_table_with_markup_and_ansi_in_sku_does_not_crash_or_leak(engine, tmp_path):
    rep = run_gate(_catalog(tmp_path), engine, as_of=dt.date(2026, 7, 1))
    buf = io.StringIO()
    render_gate(rep, "table", console=Console(file=buf, width=200, force_terminal=False))
    text = buf.getvalue()
    assert "GPU[/]" in text and "\x1b" not in text and "\u202e" not in text


def test_junit_drops_characters_xml_cannot_hold(engine, tmp_path):
    rep = run_gate(_catalog(tmp_path), engine, as_of=dt.date(2026, 7, 1))
    xml = to_junit(rep)
    root = ET.fromstring(xml)  # well-formed
    names = [c.get("name") or "" for c in root.iter("testcase")]
    assert any(n.startswith("GPU[/][2K") for n in names)


def test_markdown_escapes_backticks_links_mentions_and_html(engine, tmp_path):
    rep = run_gate(_catalog(tmp_path), engine, as_of=dt.date(2026, 7, 1))
    md = to_markdown(rep)
    row = next(line for line in md.splitlines() if "GPU[/]" in line)
    cell = row.split(" | ")[0].lstrip("| ")
    fence = cell[: len(cell) - len(cell.lstrip("`"))]
    assert len(fence) >= 2 and cell.endswith(fence)  # a code span the backtick inside cannot close
    outside = re.sub(r"(`+)(?!`).*?(?<!`)\1(?!`)", "", md)  # what is not in a code span is rendered
    assert "<b>" not in outside and "@octocat" not in outside and "](http" not in outside
    from ecscreen.outputs.reporters import _md

    assert _md("![x](http://e) @bob <img> a|b") == "\\!\\[x\\]\\(http://e\\) @&#8203;bob &lt;img&gt; a\\|b"


def test_ansi_in_input_never_reaches_the_terminal_from_check(tmp_path, capsys):
    p = tmp_path / "s.yaml"
    p.write_text(f'destination: "{ANSI.encode("unicode_escape").decode()}Atlantis"\ndate: 2024-06-01\n'
                 "items:\n  - description: Widget\n    eccn: EAR99\n")
    code = main(["check", str(p), "--no-lists", *RULES])
    out = capsys.readouterr()
    assert code == 3
    assert "Atlantis" in out.err + out.out and "\x1b[2K" not in out.err and "\x1b[2K" not in out.out


# --------------------------------------------------------------------------- caches


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="the platform has no FIFOs (os.mkfifo): nothing to guard")
def test_fifo_at_the_index_cache_path_does_not_hang(tmp_path):
    code = (
        "import os, sys, time\n"
        "from pathlib import Path\n"
        "from ecscreen.parties.matching import read_cache_file, index_cache_status, Matcher\n"
        "from ecscreen.parties.store import active_lists, _entries_of, _cache_key\n"
        "lists = active_lists()\n"
        "st = index_cache_status(_entries_of(lists), cache_key=_cache_key(lists))\n"
        "p = Path(st['file']); p.parent.mkdir(parents=True, exist_ok=True)\n"
        "p.unlink(missing_ok=True); os.mkfifo(p)\n"
        "print(index_cache_status(_entries_of(lists), cache_key=_cache_key(lists))['state'])\n"
        "m = Matcher(_entries_of(lists), cache_key=_cache_key(lists))\n"
        "print(m.cache_status, p.is_file())\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "ECSCREEN_CACHE_DIR": str(tmp_path / "cache")}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=240, env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["invalid", "saved", "True"]  # ignored, rebuilt, replaced by a regular file


def test_cache_reader_refuses_fifo_symlink_and_foreign_files(tmp_path):
    from ecscreen.parties.matching import _open_cache_file, read_cache_file

    real = tmp_path / "real.bin"
    real.write_bytes(b"x" * 100)
    link = tmp_path / "index-link.bin"
    link.symlink_to(real)
    assert read_cache_file(link, "00" * 32) is None
    with pytest.raises(OSError):
        _open_cache_file(link)
    if hasattr(os, "mkfifo"):
        fifo = tmp_path / "index-fifo.bin"
        os.mkfifo(fifo)
        assert read_cache_file(fifo, "00" * 32) is None  # returns at once: would block on open before
    if Path("/dev/null").exists():
        with pytest.raises(OSError):
            _open_cache_file(Path("/dev/null"))
