"""Reading Oracle's XREF_DATA export and planning what it links (utilhub.operations.xref_import): the header and row
rules, AIA's tables and columns through the domain value maps, each entity's rows linked to each other, conflicts
refused whole, links already there skipped."""

from __future__ import annotations

import pytest

from utilhub.operations.xref_import import Tally, group_rows, plan_import, read_export
from utilhub.platform.dvm import DomainValueMaps, shipped_maps
from utilhub.platform.problems import Problem
from utilhub.platform.xref import SystemId

HEADER = "XREF_TABLE_NAME,XREF_COLUMN_NAME,ROW_NUMBER,VALUE,IS_DELETED\n"
TYPES = ("PERSON", "ACCOUNT")
MAPS = DomainValueMaps(shipped_maps())


def reasons(tally: Tally) -> dict[str, list[int]]:
    return {r.reason: r.lines for r in tally.report().reasons}


def test_rows_are_read_whatever_the_order_and_extra_columns_of_the_header() -> None:
    # Given an export whose header has XREF_DATA's columns in another order, lower case, and one more
    text = "\ufeffvalue,xref_column_name,XREF_TABLE_NAME,ROW_NUMBER,IS_DELETED,LAST_MODIFIED\r\n1-A1,SEBL_01,customerparty_partyid,7,n,2026-01-01\r\n"
    tally = Tally()

    # When it is read
    rows = read_export(text, tally)

    # Then the row is taken, names upper-cased, the line where it ends numbered from the header's
    assert [(r.line, r.table, r.column, r.row_number, r.value, r.deleted) for r in rows] == [
        (2, "CUSTOMERPARTY_PARTYID", "SEBL_01", "7", "1-A1", False)
    ]
    assert tally.rows == 1


def test_blank_lines_before_the_header_are_passed_over_as_sqlplus_may_write_them() -> None:
    tally = Tally()
    rows = read_export('\n\n"XREF_TABLE_NAME","XREF_COLUMN_NAME","ROW_NUMBER","VALUE","IS_DELETED"\n"T_1","SEBL_01","1","1-A1",\n', tally)
    assert [(r.line, r.table, r.deleted) for r in rows] == [(4, "T_1", False)]


@pytest.mark.parametrize(
    ("text", "detail"),
    [
        ("", "The export is empty"),
        ("XREF_TABLE_NAME,XREF_COLUMN_NAME,ROW_NUMBER,VALUE\n", "missing IS_DELETED"),
        (HEADER.strip() + ",VALUE\n", "repeated VALUE"),
    ],
)
def test_a_body_without_xref_datas_header_is_a_422_naming_what_is_wrong(text: str, detail: str) -> None:
    with pytest.raises(Problem) as refused:
        read_export(text, Tally())
    assert refused.value.status == 422
    assert detail in refused.value.detail


def test_a_quote_left_open_is_a_400() -> None:
    with pytest.raises(Problem) as refused:
        read_export(HEADER + 'CUSTOMERPARTY_PARTYID,SEBL_01,1,"1-A1,N\n', Tally())
    assert refused.value.status == 400


def test_each_row_that_breaks_a_rule_is_refused_with_its_line_and_the_others_go_on() -> None:
    # Given rows each breaking one rule, a quoted value holding a comma, blank lines, and one good row
    text = HEADER + "\n".join(
        [
            "CUSTOMERPARTY_PARTYID,SEBL_01,1,1-A1",  # line 2: a field short
            ",SEBL_01,1,1-A1,N",  # 3
            "CUSTOMER-PARTY,SEBL_01,1,1-A1,N",  # 4
            "CUSTOMERPARTY_PARTYID,SEBL_01,,1-A1,N",  # 5
            "CUSTOMERPARTY_PARTYID,SEBL_01,1,,N",  # 6
            "CUSTOMERPARTY_PARTYID,SEBL_01,1,1-A\u00011,N",  # 7
            "CUSTOMERPARTY_PARTYID,SEBL_01,1,1-A1,X",  # 8
            "",
            'CUSTOMERPARTY_PARTYID,SEBL_01,1,"1-A1, Ltd",N',  # 10
        ]
    )
    tally = Tally()

    # When it is read
    rows = read_export(text + "\n\n", tally)

    # Then each bad row is refused with its reason and line; the blank lines are no rows
    assert [(r.line, r.value) for r in rows] == [(10, "1-A1, Ltd")]
    assert reasons(tally) == {
        "the row has 4 fields, the header 5": [2],
        "XREF_TABLE_NAME is empty": [3],
        "XREF_TABLE_NAME is not an AIA name (a letter, then letters, digits or _; at most 100)": [4],
        "ROW_NUMBER is empty, longer than 48 characters or holds a control character": [5],
        "VALUE is empty": [6],
        "VALUE is longer than 255 characters or holds a control character": [7],
        "IS_DELETED is neither Y nor N": [8],
    }
    assert (tally.rows, tally.report().refused) == (8, 7)


def test_tables_and_columns_go_through_the_maps_and_what_the_hub_does_not_link_is_skipped() -> None:
    # Given rows of a mapped table (SEBL, COMMON, CCB, BRM columns), a deleted row, an unmapped table
    text = HEADER + (
        "CUSTOMERPARTY_PARTYID,SEBL_01,R1,1-A1,N\n"
        "CUSTOMERPARTY_PARTYID,COMMON,R1,0A1B,N\n"
        "CUSTOMERPARTY_PARTYID,OU_CCB_01,R1,0000000001,N\n"
        "CUSTOMERPARTY_PARTYID,BRM_01,R1,0.0.0.1 /account 1 0,N\n"
        "CUSTOMERPARTY_ACCOUNTID,OU_CCB_01,R2,0000000002,Y\n"
        "CUSTOMERPARTY_ADDRESSID,SEBL_01,R3,1-X9,N\n"
    )
    tally = Tally()

    # When its rows are grouped
    entities = group_rows(read_export(text, tally), MAPS, TYPES, tally)

    # Then one entity holds the Siebel and CCB ids under the hub's entity type and systems; the rest is skipped
    assert [(e.entity_type, e.ids, e.lines) for e in entities] == [
        ("PERSON", {"SEBL": "1-A1", "CCB": "0000000001"}, {"SEBL": [2], "CCB": [4]})
    ]
    assert reasons(tally) == {
        "AIA's own id (COMMON): the hub links each system's id to the others' directly": [3],
        "column BRM_01 is not a system the hub links (no row in the domain value map XrefSystem)": [5],
        "deleted in Oracle's cross-references (IS_DELETED = Y)": [6],
        "table CUSTOMERPARTY_ADDRESSID is not one the hub links (no row in the domain value map XrefEntityType)": [7],
    }


def test_an_entity_type_the_hub_does_not_link_is_skipped() -> None:
    tally = Tally()
    rows = read_export(HEADER + "CUSTOMERPARTY_ACCOUNTID,SEBL_01,1,1-A1,N\n", tally)
    assert group_rows(rows, MAPS, ("PERSON",), tally) == []
    assert list(reasons(tally)) == ["entity type ACCOUNT is not among those the hub links (UTILHUB_XREF_ENTITY_TYPES)"]


def plan(
    text: str, existing: dict[tuple[str, SystemId], dict[str, str]] | None = None
) -> tuple[dict[tuple[str, SystemId], dict[str, str]], Tally]:
    tally = Tally()
    entities = group_rows(read_export(HEADER + text, tally), MAPS, TYPES, tally)
    keys = {(e.entity_type, SystemId(s, v)) for e in entities for s, v in e.ids.items()}
    found = {key: (existing or {}).get(key, {}) for key in keys}
    return dict(plan_import(entities, found, tally).writes), tally


def test_the_ids_of_one_entity_are_linked_both_ways() -> None:
    writes, tally = plan(
        "CUSTOMERPARTY_PARTYID,SEBL_01,1,1-A1,N\nCUSTOMERPARTY_PARTYID,OU_CCB_01,1,0000000001,N\nCUSTOMERPARTY_PARTYID,MDM_01,1,M-1,N\n"
    )
    assert writes == {
        ("PERSON", SystemId("SEBL", "1-A1")): {"CCB": "0000000001", "MDM": "M-1"},
        ("PERSON", SystemId("CCB", "0000000001")): {"SEBL": "1-A1", "MDM": "M-1"},
        ("PERSON", SystemId("MDM", "M-1")): {"SEBL": "1-A1", "CCB": "0000000001"},
    }
    report = tally.report()
    assert (report.imported, report.skipped, report.refused, report.entitiesLinked) == (3, 0, 0, 1)


def test_links_already_there_are_skipped_and_only_what_is_missing_is_written() -> None:
    # Given the Siebel and CCB ids linked already, and an export adding MDM's
    existing = {
        ("PERSON", SystemId("SEBL", "1-A1")): {"CCB": "0000000001"},
        ("PERSON", SystemId("CCB", "0000000001")): {"SEBL": "1-A1"},
    }
    writes, tally = plan(
        "CUSTOMERPARTY_PARTYID,SEBL_01,1,1-A1,N\nCUSTOMERPARTY_PARTYID,OU_CCB_01,1,0000000001,N\nCUSTOMERPARTY_PARTYID,MDM_01,1,M-1,N\n",
        existing,
    )
    assert writes[("PERSON", SystemId("SEBL", "1-A1"))] == {"MDM": "M-1"}
    assert (tally.report().imported, tally.report().skipped) == (3, 0)

    # And an export of what is linked already writes nothing, every row skipped as present
    writes, tally = plan("CUSTOMERPARTY_PARTYID,SEBL_01,1,1-A1,N\nCUSTOMERPARTY_PARTYID,OU_CCB_01,1,0000000001,N\n", existing)
    assert writes == {}
    assert reasons(tally) == {"already linked (imported before, or linked by the hub)": [2, 3]}


@pytest.mark.parametrize(
    ("text", "existing", "reason"),
    [
        (  # linked in the table to another CCB person
            "CUSTOMERPARTY_PARTYID,SEBL_01,1,1-A1,N\nCUSTOMERPARTY_PARTYID,OU_CCB_01,1,0000000002,N\n",
            {("PERSON", SystemId("SEBL", "1-A1")): {"CCB": "0000000001"}},
            "SEBL 1-A1 is already linked as PERSON to CCB 0000000001, not 0000000002",
        ),
        (  # the CCB person linked in the table to another Siebel account
            "CUSTOMERPARTY_PARTYID,SEBL_01,1,1-A1,N\nCUSTOMERPARTY_PARTYID,OU_CCB_01,1,0000000002,N\n",
            {("PERSON", SystemId("CCB", "0000000002")): {"SEBL": "1-Z9"}},
            "CCB 0000000002 is already linked as PERSON to SEBL 1-Z9, not 1-A1",
        ),
        (  # two values of one column in one entity
            "CUSTOMERPARTY_PARTYID,SEBL_01,1,1-A1,N\nCUSTOMERPARTY_PARTYID,OU_CCB_01,1,0000000001,N\nCUSTOMERPARTY_PARTYID,OU_CCB_01,1,0000000002,N\n",
            {},
            "CUSTOMERPARTY_PARTYID row 1 gives OU_CCB_01 two different values",
        ),
    ],
)
def test_a_conflict_refuses_the_whole_entity_with_the_reason(
    text: str, existing: dict[tuple[str, SystemId], dict[str, str]], reason: str
) -> None:
    writes, tally = plan(text, existing)
    assert writes == {}
    report = tally.report()
    assert report.refused == len(text.splitlines())
    assert [r.reason for r in report.reasons] == [reason]


def test_an_entity_conflicting_with_one_earlier_in_the_same_export_is_refused() -> None:
    writes, tally = plan(
        "CUSTOMERPARTY_PARTYID,SEBL_01,1,1-A1,N\nCUSTOMERPARTY_PARTYID,OU_CCB_01,1,0000000001,N\n"
        "CUSTOMERPARTY_PARTYID,SEBL_01,2,1-A1,N\nCUSTOMERPARTY_PARTYID,OU_CCB_01,2,0000000002,N\n"
    )
    assert writes[("PERSON", SystemId("SEBL", "1-A1"))] == {"CCB": "0000000001"}
    assert ("PERSON", SystemId("CCB", "0000000002")) not in writes
    assert reasons(tally) == {"SEBL 1-A1 is already linked as PERSON to CCB 0000000001, not 0000000002": [4, 5]}


def test_an_entity_with_one_system_only_is_skipped() -> None:
    writes, tally = plan("CUSTOMERPARTY_PARTYID,SEBL_01,1,1-A1,N\nCUSTOMERPARTY_PARTYID,COMMON,1,0A,N\n")
    assert writes == {}
    assert reasons(tally)["no other system's id in its table and row number"] == [2]


def test_the_import_never_links_brms_own_objects(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the hub's entity types as a deployment sets them, BRM's among them (OC-01 links those, and reads them)
    from utilhub.operations import wiring
    from utilhub.platform.settings import get_settings

    monkeypatch.setenv("UTILHUB_XREF_ENTITY_TYPES", "PERSON,ACCOUNT,METER,account,billinfo,payinfo")
    get_settings.cache_clear()
    try:
        # Then the cutover's import may link the utility's only: its function may not write BRM's (template.yaml)
        assert wiring.importable_entity_types() == ["PERSON", "ACCOUNT", "METER"]
        assert wiring.xref_entity_types()[-3:] == ["account", "billinfo", "payinfo"]
    finally:
        monkeypatch.delenv("UTILHUB_XREF_ENTITY_TYPES")
        get_settings.cache_clear()
