"""``ecscreen lists update`` against a local HTTP server on 127.0.0.1 (never the network)."""

from __future__ import annotations

import csv
import functools
import http.server
import json
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from ecscreen.cli.lists import app
from ecscreen.errors import UsageError
from ecscreen.parties import store as L
from ecscreen.parties.update import UpdateError, resolve_sources, sources, update_list

FIX = Path(__file__).parent / "fixtures" / "lists"


class _Handler(http.server.SimpleHTTPRequestHandler):
    lie_length: dict[str, int] = {}

    def log_message(self, *args: object) -> None:  # quiet
        pass

    def send_header(self, keyword: str, value: str) -> None:
        name = self.path.rsplit("/", 1)[-1]
        if keyword == "Content-Length" and name in self.lie_length:
            value = str(int(value) + self.lie_length[name])
        super().send_header(keyword, value)


@pytest.fixture()
def served(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(_Handler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
        _Handler.lie_length = {}


@pytest.fixture()
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ECSCREEN_HOME", str(tmp_path / "home"))
    L.refresh()
    return tmp_path / "home"


def _sources_file(tmp_path: Path, base: str, monkeypatch: pytest.MonkeyPatch, **mins: int) -> None:
    doc = yaml.safe_load((Path(L.__file__).parents[1] / "data" / "list-sources.yaml").read_text(encoding="utf-8"))
    for spec in doc["sources"].values():
        spec["url"] = f"{base}/{spec['files'][0]}"
        spec["min_bytes"] = mins.get("min_bytes", 100)
        spec["min_entries"] = mins.get("min_entries", 5)
    p = tmp_path / "sources.yaml"
    p.write_text(yaml.safe_dump(doc), encoding="utf-8")
    monkeypatch.setenv("ECSCREEN_LIST_SOURCES", str(p))


def _full_csl_csv(path: Path) -> int:
    """An official-layout CSL CSV holding every entry of the embedded snapshot (plus addresses)."""
    snap = L.load_default()
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=L.CSL_COLUMNS)
        w.writeheader()
        for e in snap.entries:
            w.writerow(
                {
                    "_id": e.id,
                    "source": e.source,
                    "entity_number": e.id.split("-", 1)[-1],
                    "type": e.type or "",
                    "name": e.name,
                    "alt_names": "; ".join(e.aliases),
                    "addresses": "; ".join(f"1 Test Road, Testcity, {c}" for c in e.countries),
                    "license_requirement": e.license_requirement or "",
                    "license_policy": e.license_policy or "",
                    "federal_register_notice": e.federal_register_notice or "",
                }
            )
    return len(snap.entries)


def test_official_urls_and_citations_are_data() -> None:
    src = sources()
    assert src["csl"].url == "https://data.trade.gov/downloadable_consolidated_screening_list/v1/consolidated.csv"
    assert src["ofac-sdn"].url.startswith("https://sanctionslistservice.ofac.treas.gov/api/PublicationPreview/exports/")
    assert src["ofac-sdn"].files == ("SDN.CSV", "ADD.CSV", "ALT.CSV")
    assert src["ofac-nonsdn"].files[0] == "CONS_PRIM.CSV"
    assert src["un"].url == "https://scsanctions.un.org/resources/xml/en/consolidated.xml"
    assert all(s.citation.startswith("https://") for s in src.values())
    assert [s.key for s in resolve_sources(["ofac"])] == ["ofac-sdn", "ofac-nonsdn"]
    with pytest.raises(UsageError, match="unknown list source"):
        resolve_sources(["eu"])


def test_update_csl_downloads_verifies_and_records_provenance(
    home: Path, tmp_path: Path, served: tuple[Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, base = served
    n = _full_csl_csv(root / "consolidated.csv")
    _sources_file(tmp_path, base, monkeypatch)
    res = CliRunner().invoke(app, ["update"])
    assert res.exit_code == 0, res.output
    assert f"{n} entries" in res.output and f"{base}/consolidated.csv" in res.output
    active = L.active_lists(rules_roots=[])
    assert [sl.info.origin for sl in active] == ["update"]  # the snapshot is replaced
    info = active[0].info
    assert info.source_url == f"{base}/consolidated.csv" and info.retrieved_at is not None
    assert info.file_sha256 and len(info.file_sha256) == 64 and info.forced is None
    assert info.addresses > 0 and "trade.gov" in info.source


def test_update_refuses_a_one_row_download_and_keeps_the_snapshot(
    home: Path, tmp_path: Path, served: tuple[Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, base = served
    lines = (FIX / "csl_sample.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    (root / "consolidated.csv").write_text("".join(lines[:2]), encoding="utf-8")
    _sources_file(tmp_path, base, monkeypatch, min_entries=1)
    res = CliRunner().invoke(app, ["update"])
    # it parses and has enough rows for the source check: the list-health guard refuses it (exit 2)
    assert isinstance(res.exception, L.ListError) and res.exception.exit_code == 2
    assert "import refused" in str(res.exception)
    assert str(res.exception).startswith(f"{base}/consolidated.csv")
    assert [sl.info.origin for sl in L.active_lists(rules_roots=[])] == ["snapshot"]


def test_update_rejects_error_page_small_file_404_and_truncated_transfer(
    home: Path, tmp_path: Path, served: tuple[Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, base = served
    _sources_file(tmp_path, base, monkeypatch, min_bytes=2000)
    with pytest.raises(UpdateError, match="HTTP 404"):
        update_list(sources()["csl"])
    (root / "consolidated.csv").write_text("<html>" + "x" * 3000 + "</html>", encoding="utf-8")
    with pytest.raises(UpdateError, match="csl: (not a valid csl-csv file|expected format csl-csv)"):
        update_list(sources()["csl"])
    shutil.copy(FIX / "csl_sample.csv", root / "consolidated.csv")
    _sources_file(tmp_path, base, monkeypatch, min_bytes=10_000_000)
    with pytest.raises(UpdateError, match="less than the 10000000 expected"):
        update_list(sources()["csl"])
    _sources_file(tmp_path, base, monkeypatch)
    _Handler.lie_length = {"consolidated.csv": 500}
    with pytest.raises(UpdateError, match="download failed|truncated"):
        update_list(sources()["csl"], timeout=5)
    assert L.stored_lists() == []


def test_update_ofac_sdn_set_with_addresses(
    home: Path, tmp_path: Path, served: tuple[Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, base = served
    for f in ("sdn", "add", "alt"):
        shutil.copy(FIX / "ofac" / f"{f}.csv", root / f"{f.upper()}.CSV")
    _sources_file(tmp_path, base, monkeypatch)
    res = CliRunner().invoke(app, ["update", "--source", "ofac-sdn"])
    assert res.exit_code == 0, res.output
    sdn = next(sl for sl in L.stored_lists() if sl.info.name == "OFAC SDN")
    assert sdn.info.entries == 25 and sdn.info.addresses > 0 and sdn.info.origin == "update"
    assert any(e.aliases for e in sdn.entries)


def test_update_un_and_from_file(
    home: Path, tmp_path: Path, served: tuple[Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, base = served
    shutil.copy(FIX / "un_subset.xml", root / "consolidated.xml")
    _sources_file(tmp_path, base, monkeypatch)
    res = CliRunner().invoke(app, ["update", "--source", "un"])
    assert res.exit_code == 0, res.output
    un = next(sl for sl in L.stored_lists() if sl.info.name == "UN SC Consolidated List")
    assert un.info.date is not None and un.info.source_url == f"{base}/consolidated.xml"
    # --from: the same checks on a file fetched by other means, recorded as a file URL
    res = CliRunner().invoke(app, ["update", "--source", "un", "--from", str(FIX / "un_subset.xml")])
    assert res.exit_code == 0, res.output
    un = next(sl for sl in L.stored_lists() if sl.info.name == "UN SC Consolidated List")
    assert un.info.source_url and un.info.source_url.startswith("file://")
    doc = json.loads(CliRunner().invoke(app, ["status", "--json"]).output)
    assert any(r["origin"] == "update" and r["source_url"].startswith("file://") for r in doc["lists"])


def test_update_from_file_with_wrong_format_is_refused(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(UpdateError, match="less than the 500000 expected"):
        update_list(sources()["un"], from_file=FIX / "own_parties.yaml")
    _sources_file(tmp_path, "http://127.0.0.1:9", monkeypatch)
    with pytest.raises(UpdateError, match="expected format un-xml|not a valid un-xml"):
        update_list(sources()["un"], from_file=FIX / "own_parties.yaml")
    with pytest.raises(UpdateError, match="file not found"):
        update_list(sources()["un"], from_file=tmp_path / "missing.xml")


def test_update_from_a_mirror_url_and_option_checks(
    home: Path, tmp_path: Path, served: tuple[Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, base = served
    (root / "mirror").mkdir()
    shutil.copy(FIX / "un_subset.xml", root / "mirror" / "un.xml")
    _sources_file(tmp_path, "http://127.0.0.1:9", monkeypatch)  # the configured URL is unreachable
    res = CliRunner().invoke(app, ["update", "--source", "un", "--url", f"{base}/mirror/un.xml"])
    assert res.exit_code == 0, res.output
    un = next(sl for sl in L.stored_lists() if sl.info.name == "UN SC Consolidated List")
    assert un.info.source_url == f"{base}/mirror/un.xml"
    res = CliRunner().invoke(app, ["update", "--source", "all", "--from", str(FIX / "un_subset.xml")])
    assert res.exit_code != 0 and "exactly one --source" in str(res.exception)
    with pytest.raises(UpdateError, match="only http"):
        update_list(sources()["un"], url="file:///etc/passwd")
