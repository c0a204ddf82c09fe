"""Rule-pack loader: errors name file, line and field; valid packs load."""

import datetime as dt
import textwrap

import pytest

from ecscreen.errors import PackError
from ecscreen.packs.registry import load_registry, normalize_eccn

GOOD = """\
pack: {id: test-pack, version: "1", jurisdiction: US-EAR, title: Test}
lists:
  dests: {type: countries, members: ["group:D:5", MO], exclude: ["group:A:5"]}
rules:
  - id: T-1
    title: test rule
    outcome: review
    when: {destination_in: ["list:dests"]}
    message: "{description} to {destination_name}"
    citations: [{ref: "15 CFR 744.23"}]
    effective_from: 2023-01-01
"""


def write(tmp_path, text, name="p.yaml"):
    p = tmp_path / name
    p.write_text(textwrap.dedent(text))
    return p


def test_good_pack_loads_with_shipped_groups(tmp_path):
    reg = load_registry([write(tmp_path, GOOD)])
    ids = [p.info.id for p in reg.packs]
    assert "test-pack" in ids and "us-ear-country-groups" in ids
    info = next(p.info for p in reg.packs if p.info.id == "test-pack")
    assert len(info.sha256) == 64 and info.rules == 1


@pytest.mark.parametrize(
    "mutate,line,field,msg",
    [
        (lambda t: t.replace("    outcome: review\n", "    outcome: review\n    severity: high\n"), 8, "rules[0].severity",
         "unknown key"),
        (lambda t: t.replace("effective_from: 2023-01-01", "effective_from: 2023-13-01"), 11,
         "rules[0].effective_from", "date"),
        (lambda t: t.replace("list:dests", "list:nope"), 5, "rules[0].when", "unknown list 'nope'"),
        (lambda t: t.replace("group:D:5", "group:D:9"), None, "lists.dests", "unknown country group"),
        (lambda t: t.replace("outcome: review", "outcome: maybe"), 7, "rules[0].outcome", "Input should be"),
        (lambda t: t.replace("{destination_name}", "{dest}"), 5, "rules[0].message", "unknown placeholder"),
        (lambda t: t.replace("    citations: [{ref: \"15 CFR 744.23\"}]\n", ""), 5, "rules[0].citations", "Field required"),
        (lambda t: t.replace('members: ["group:D:5", MO]', 'members: ["group:D:5", China]'), None, "lists.dests",
         "not an ISO 3166 code"),
    ],
)
def test_loader_errors(tmp_path, mutate, line, field, msg):
    p = write(tmp_path, mutate(GOOD))
    with pytest.raises(PackError) as e:
        load_registry([p])
    err = e.value
    assert err.file and err.file.endswith("p.yaml")
    assert err.field == field
    assert msg in err.message
    if line is not None:
        assert err.line == line
    assert err.exit_code == 4


def test_duplicate_rule_ids_across_files(tmp_path):
    write(tmp_path, GOOD, "a.yaml")
    write(tmp_path, GOOD.replace("test-pack", "test-pack-2"), "b.yaml")
    with pytest.raises(PackError, match="duplicate rule id 'T-1'"):
        load_registry([tmp_path])


def test_duplicate_pack_ids(tmp_path):
    write(tmp_path, GOOD, "a.yaml")
    write(tmp_path, GOOD.replace("T-1", "T-2"), "b.yaml")
    with pytest.raises(PackError, match="duplicate pack id"):
        load_registry([tmp_path])


def test_duplicate_yaml_keys(tmp_path):
    p = write(tmp_path, GOOD.replace("    outcome: review\n", "    outcome: review\n    outcome: prohibited\n"))
    with pytest.raises(PackError) as e:
        load_registry([p])
    assert e.value.line == 8 and "duplicate key" in e.value.message


def test_effective_to_before_from(tmp_path):
    p = write(tmp_path, GOOD.replace("effective_from: 2023-01-01", "effective_from: 2023-01-01\n    effective_to: 2022-01-01"))
    with pytest.raises(PackError, match="effective_to"):
        load_registry([p])


def test_condition_needs_one_key(tmp_path):
    p = write(tmp_path, GOOD.replace('when: {destination_in: ["list:dests"]}',
                                     'when: {destination_in: ["list:dests"], origin_in: [US]}'))
    with pytest.raises(PackError, match="exactly one key"):
        load_registry([p])


def test_unknown_kind(tmp_path):
    p = write(tmp_path, "kind: magic\n" + GOOD)
    with pytest.raises(PackError, match="unknown pack kind"):
        load_registry([p])


def test_missing_dir(tmp_path):
    with pytest.raises(PackError, match="not found"):
        load_registry([tmp_path / "nope"])


def test_clear_outcome_refused(tmp_path):
    p = write(tmp_path, GOOD.replace("outcome: review", "outcome: clear"))
    with pytest.raises(PackError, match="cannot be 'clear'"):
        load_registry([p])


def test_normalize_eccn():
    assert normalize_eccn("3a090.A.1") == "3A090.a.1"
    assert normalize_eccn(" ear99 ") == "EAR99"
    assert normalize_eccn("3A9") is None
    assert normalize_eccn("XYZ12") is None


def test_group_membership_is_dated(registry):
    assert "KH" in registry.group_members("D:5", dt.date(2023, 1, 1))
    assert "KH" not in registry.group_members("D:5", dt.date(2021, 12, 8))
    assert "KH" not in registry.group_members("D:5", dt.date(2026, 2, 3))
    assert "MO" not in registry.group_members("D:5", dt.date(2024, 1, 1))  # Macau is not D:5
    assert "CN" in registry.group_members("D:5", dt.date(2024, 1, 1))
    assert len(registry.group_members("B", dt.date(2026, 7, 23))) >= 170


def test_shipped_packs_load(registry):
    kinds = {getattr(p.model, "kind", None) for p in registry.packs}
    assert {"rules", "country_groups"} <= kinds
