"""The table view of a report with a procedure-steps table does not import rich's emoji table (issue 10).

A ``str`` column header is rendered by rich as markup with emoji codes, whose first use imports
``rich._emoji_codes`` (~3,600 entries, ~3 ms CPU of a one-shipment ``check``); the headers are Text, which
render the same. Run in a fresh interpreter, since another test may have imported it already.
"""

from __future__ import annotations

import os
import subprocess
import sys

SCRIPT = r"""
import io, sys
from rich.console import Console
from ecscreen.model import Citation, Finding, Report, ShipmentResult, Step
from ecscreen.outputs.render import print_table
step = Step(name="FDP 734.9(e)(1)", outcome="applies", detail="foreign-made, from US technology", deciding=True,
            citations=[Citation(ref="15 CFR 734.9(e)")])
f = Finding(rule_id="FDP-1", pack_id="p", outcome="license_required", title="t", message="m", steps=[step])
rep = Report(decision="license_required", results=[ShipmentResult(id="S1", decision="license_required", findings=[f])])
buf = io.StringIO()
print_table(rep, Console(file=buf, soft_wrap=False, highlight=False, width=80), explain=False)
text = buf.getvalue()
assert "step" in text and "citation" in text and "FDP 734.9(e)(1)" in text, text
print("emoji" if "rich._emoji_codes" in sys.modules else "no emoji")
"""


def test_steps_table_renders_without_rich_emoji_table() -> None:
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=os.environ.copy(),
                         check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "no emoji"
