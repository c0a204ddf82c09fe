"""Issue 12 (shipment inputs and packs fail closed): one named regression test per defect."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ecscreen.cli import app, main
from ecscreen.errors import PackError
from ecscreen.packs import load_registry

ROOT = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------- 8. unreadable pack files


def test_binary_file_in_rules_dir_is_pack_error_naming_it(tmp_path, capsys):
    (tmp_path / "good.yaml").write_text(textwrap.dedent("""\
        pack: {id: t, version: "1", jurisdiction: US-EAR, title: T}
        rules: []
    """))
    bad = tmp_path / "zz-binary.yaml"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x8a\xff\xfe" * 20)
    with pytest.raises(PackError) as e:
        load_registry([tmp_path])
    assert e.value.file and e.value.file.endswith("zz-binary.yaml")
    assert "UTF-8" in e.value.message
    assert main(["check", str(ROOT / "examples" / "gpu-to-china.yaml"), "--rules", str(tmp_path)]) == 4
    assert "zz-binary.yaml" in capsys.readouterr().err
