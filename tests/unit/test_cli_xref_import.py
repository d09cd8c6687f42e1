"""``utilhub xref import FILE`` (utilhub_cli.xref_import): Oracle's export sent in parts of whole entities, each
part with the header, the hub's reports summed with the file's own lines; ``xref SYSTEM ID`` still the lookup."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import httpx

from tests.conftest import EVENTS
from tests.unit.test_cli_requests import FakeHub, answer, problem, run
from utilhub_cli.xref_import import export_parts

HEADER = "XREF_TABLE_NAME,XREF_COLUMN_NAME,ROW_NUMBER,VALUE,IS_DELETED\n"


def rows_of(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_an_export_is_split_into_parts_of_whole_entities_each_with_the_header() -> None:
    # Given an export whose entities' rows are interleaved, one value quoted over two lines
    text = HEADER + (
        "CUSTOMERPARTY_PARTYID,SEBL_01,1,1-A1,N\n"  # line 2
        "CUSTOMERPARTY_PARTYID,SEBL_01,2,1-B2,N\n"  # 3
        'CUSTOMERPARTY_PARTYID,OU_CCB_01,1,"00000\n00001",N\n'  # 4-5
        "CUSTOMERPARTY_PARTYID,OU_CCB_01,2,0000000002,N\n"  # 6
        "CUSTOMERPARTY_ACCOUNTID,SEBL_01,1,1-A1,N\n"  # 7
    )

    # When it is split at three rows a part
    parts = list(export_parts(text, max_rows=3))

    # Then each entity's rows are in one part, after the header, and each record's last line is known in the file
    assert [part.rows for part in parts] == [2, 3]
    assert [rows_of(part.text)[0] for part in parts] == [rows_of(HEADER)[0]] * 2
    assert [r[2] for r in rows_of(parts[0].text)[1:]] == ["1", "1"]
    assert [(r[0][:16], r[2]) for r in rows_of(parts[1].text)[1:]] == [("CUSTOMERPARTY_PA", "2")] * 2 + [("CUSTOMERPARTY_AC", "1")]
    assert parts[0].file_line == {2: 2, 4: 5}
    assert parts[1].file_line == {2: 3, 3: 6, 4: 7}


def test_a_file_that_is_not_an_export_is_sent_whole_for_the_hub_to_refuse() -> None:
    assert [part.text for part in export_parts("TABLE,VALUE\nA,B\n")] == ["TABLE,VALUE\nA,B\n"]


def test_xref_import_posts_each_part_as_csv_and_sums_the_reports_with_the_files_lines(tmp_path: Path) -> None:
    # Given the sample export, and a hub answering each part with a report naming the part's lines 2 and 3
    def report(request: httpx.Request) -> httpx.Response:
        assert request.headers["content-type"].startswith("text/csv")
        assert request.content.decode().startswith("XREF_TABLE_NAME,XREF_COLUMN_NAME,ROW_NUMBER,VALUE,IS_DELETED,LAST_MODIFIED\n")
        reasons = [{"outcome": "skipped", "reason": "AIA's own id (COMMON)", "rows": 1, "lines": [3]}]
        return httpx.Response(200, json={"rows": 3, "imported": 2, "skipped": 1, "refused": 0, "entitiesLinked": 1, "reasons": reasons})

    hub = FakeHub({("POST", "/ops/cross-references:import"): report})
    sample = EVENTS / "xref_export_sample.csv"

    # When the file is imported three rows a request, as a table and as JSON
    table = run(hub, "xref", "import", str(sample), "--rows-per-request", "3")
    as_json = run(hub, "xref", "import", str(sample), "--rows-per-request", "3", "--json")

    # Then one request per entity of three rows went (19 rows: 6 parts of whole entities), the counts are summed and
    # each reason names the file's lines
    assert table.exit_code == 0, table.output
    parts = len(hub.requests) // 2
    summed = json.loads(as_json.output)
    assert summed["parts"] == parts
    assert (summed["rows"], summed["imported"], summed["skipped"]) == (3 * parts, 2 * parts, parts)
    assert summed["reasons"][0]["rows"] == parts
    assert summed["reasons"][0]["lines"][:2] == [3, 6]
    for text in ("imported", "refused", "AIA's own id (COMMON)", "xref_export_sample.csv"):
        assert text in table.output


def test_xref_import_stops_on_the_hubs_refusal_with_its_reason(tmp_path: Path) -> None:
    export = tmp_path / "export.csv"
    export.write_text("TABLE,VALUE\nA,B\n", encoding="utf-8")
    hub = FakeHub({("POST", "/ops/cross-references:import"): problem(422, "Invalid request", "missing XREF_TABLE_NAME")})

    result = run(hub, "xref", "import", str(export))

    assert result.exit_code == 1
    assert "missing XREF_TABLE_NAME" in result.output


def test_xref_system_id_is_still_the_lookup() -> None:
    ids = {"system": "CCB", "id": "0000000001", "ids": {"CCB": "0000000001", "SEBL": "1-A1"}}
    hub = FakeHub({("GET", "/ops/cross-references"): answer(200, ids)})

    result = run(hub, "xref", "CCB", "0000000001", "--json")

    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == ids
