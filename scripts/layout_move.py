#!/usr/bin/env python3
"""Rewrite imports from the old flat module layout to the layered sub-packages.

The move itself (issue 10, item 7) was a one-off ``git mv`` of each flat module into its layer; this
script kept the imports right while it happened and is kept so branches started before the move can
rewrite their new files: ``python scripts/layout_move.py --rewrite-only FILE...``.

It rewrites ``from .x import``, ``from . import x``, ``from ecscreen import x`` and every dotted
``ecscreen.x`` (also in strings such as ``monkeypatch.setattr("ecscreen.x.y", ...)``) using MOVES.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

# old flat module -> new dotted module (relative to the ecscreen package)
MOVES: dict[str, str] = {
    "models": "model",
    "countries": "domain.countries",
    "textmatch": "domain.textmatch",
    "textsafe": "domain.textsafe",
    "policy": "domain.policy",
    "normalize": "domain.normalize",
    "packs": "packs.registry",
    "yamlio": "packs.yamlio",
    "parties": "parties.screening",
    "matching": "parties.matching",
    "variants": "parties.variants",
    "addresses": "parties.addresses",
    "lists": "parties.store",
    "listupdate": "parties.update",
    "engine": "engine.core",
    "chart": "engine.chart",
    "jurisdiction": "engine.jurisdiction",
    "licensing": "engine.licensing",
    "inputcheck": "engine.inputcheck",
    "listscope": "engine.listscope",
    "snapshot": "engine.snapshot",
    "formats": "inputs.files",
    "render": "outputs.render",
    "envelope": "outputs.envelope",
    "reporters": "outputs.reporters",
    "check_formats": "outputs.check_formats",
    "batch": "runners.batch",
    "gate": "runners.gate",
    "cli": "cli.main",
    "cli_batch": "cli.batch",
    "cli_explain": "cli.explain",
    "cli_gate": "cli.gate",
    "cli_lists": "cli.lists",
    "cliopts": "cli.options",
}
# names that are now packages: `ecscreen.<pkg>.<child>` written in the new layout is left alone
CHILDREN: dict[str, set[str]] = {}
for _new in MOVES.values():
    _parts = _new.split(".")
    if len(_parts) == 2:
        CHILDREN.setdefault(_parts[0], set()).add(_parts[1])
for _pkg in ("records", "service"):
    CHILDREN.setdefault(_pkg, set())
_NEW_SUBS = {"context", "screen", "conditions", "coverage", "interface", "base", "readers", "serve",
             "review", "replay", "rescreen", "records", "store", "models", "app", "settings"}
for _pkg in CHILDREN:
    CHILDREN[_pkg] |= _NEW_SUBS

_NAMES = "|".join(sorted(MOVES, key=len, reverse=True))
_DOTTED = re.compile(rf"(?<![\w.])ecscreen\.({_NAMES})\b(?:\.(\w+))?")
_FROM_PKG = re.compile(r"^(?P<ind>[ \t]*)from (?:ecscreen|\.) import (?P<names>\([^)]*\)|[^\n#]+?)(?P<tail>[ \t]*(?:#[^\n]*)?)$",
                       re.M)
_FROM_REL = re.compile(r"(?m)^(?P<ind>[ \t]*)from \.(?P<mod>\w+)((?:\.\w+)*) import ")


def _dotted(m: re.Match[str]) -> str:
    old, child = m.group(1), m.group(2)
    if old in CHILDREN and child is not None and child in CHILDREN[old]:
        return m.group(0)  # already a new-layout path
    new = "ecscreen." + MOVES[old]
    return new + (f".{child}" if child is not None else "")


def _from_pkg(m: re.Match[str]) -> str:
    ind, names, tail = m.group("ind"), m.group("names"), m.group("tail")
    items = [n.strip() for n in names.strip("()").replace("\n", " ").split(",") if n.strip()]
    keep: list[str] = []
    lines: list[str] = []
    for it in items:
        parts = it.split()
        name, alias = parts[0], (parts[2] if len(parts) == 3 else None)
        if name in MOVES:
            new = MOVES[name]
            pkg, _, leaf = new.rpartition(".")
            if not pkg:  # models -> model (a package)
                stmt = f"import ecscreen.{new} as {alias or name}"
            else:
                asname = alias or (name if leaf != name else None)
                stmt = f"from ecscreen.{pkg} import {leaf}" + (f" as {asname}" if asname else "")
            lines.append(ind + stmt)
        else:
            keep.append(it)
    if not lines:
        return m.group(0).replace("from . import", "from ecscreen import")
    if keep:
        lines.insert(0, ind + "from ecscreen import " + ", ".join(keep))
    lines[-1] += tail
    return "\n".join(lines)


def rewrite(text: str, *, relative: bool) -> str:
    if relative:
        text = _FROM_REL.sub(lambda m: f"{m.group('ind')}from ecscreen.{m.group('mod')}{m.group(3)} import ", text)
        text = _DOTTED.sub(_dotted, text)
        return _FROM_PKG.sub(_from_pkg, text)
    text = _DOTTED.sub(_dotted, text)
    return _FROM_PKG.sub(lambda m: _from_pkg(m) if "from ecscreen import" in m.group(0) else m.group(0), text)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rewrite-only", nargs="+", metavar="FILE", help="rewrite imports in these files only")
    args = ap.parse_args(argv)
    if args.rewrite_only:
        for f in args.rewrite_only:
            p = Path(f)
            old = p.read_text(encoding="utf-8")
            new = rewrite(old, relative=False)
            if new != old:
                p.write_text(new, encoding="utf-8")
                print(f"rewrote {p}")
        return 0
    root = Path(__file__).resolve().parents[1]
    src = root / "src" / "ecscreen"
    moved: list[Path] = []
    for old, new in MOVES.items():
        target = src / (new.replace(".", "/") + ".py") if "." in new else src / new / "__init__.py"
        target.parent.mkdir(parents=True, exist_ok=True)
        init = target.parent / "__init__.py"
        if not init.exists() and target.name != "__init__.py":
            init.write_text(f'"""ecscreen.{target.parent.name}."""\n', encoding="utf-8")
            subprocess.run(["git", "add", str(init)], check=True, cwd=root)
        subprocess.run(["git", "mv", str(src / f"{old}.py"), str(target)], check=True, cwd=root)
        moved.append(target)
    for p in moved:
        p.write_text(rewrite(p.read_text(encoding="utf-8"), relative=True), encoding="utf-8")
    init = src / "__init__.py"
    init.write_text(rewrite(init.read_text(encoding="utf-8"), relative=True), encoding="utf-8")
    api = src / "api.py"
    api.write_text(rewrite(api.read_text(encoding="utf-8"), relative=True), encoding="utf-8")
    others = [*root.glob("tests/**/*.py"), *root.glob("scripts/*.py"), *root.glob("benchmarks/*.py")]
    for p in others:
        if p.name == "layout_move.py":
            continue
        old_text = p.read_text(encoding="utf-8")
        new_text = rewrite(old_text, relative=False)
        if new_text != old_text:
            p.write_text(new_text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
