"""The Wade-Giles table is pypinyin's, read without importing pypinyin (its import costs ~185 ms CPU: every
one-shipment ``check`` with a Latin-script party paid it through the Wade-Giles trigger)."""

from __future__ import annotations

import subprocess
import sys


def test_table_equals_pypinyins_own() -> None:
    from pypinyin.style.wadegiles import _convert_table

    from ecscreen.parties.variants import _wade_giles_source_table

    assert _wade_giles_source_table() == [(a, b) for a, b in _convert_table]


def test_a_latin_query_does_not_import_pypinyin() -> None:
    """Regression: the trigger imported ``pypinyin.style.wadegiles`` (and so the whole package)."""
    code = (
        "import sys\n"
        "from ecscreen.domain.normalize import normalize\n"
        "from ecscreen.parties.variants import query_variants, _wade_giles_trigger\n"
        "nn = normalize('Hsi Chin-ping')\n"
        "assert _wade_giles_trigger(['hsi', 'chin', 'ping'])\n"
        "query_variants(nn, {'xi': 1, 'jinping': 1})\n"
        "query_variants(normalize('Shenzhen Example Trading Co., Ltd.'), {})\n"
        "print('pypinyin' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False", out.stderr
