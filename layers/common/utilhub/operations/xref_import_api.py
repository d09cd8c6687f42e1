"""``POST /ops/cross-references:import``: an operator imports Oracle's cross-references (AIA's ``XREF_DATA`` as
CSV) at the cutover from Oracle's packs (:mod:`utilhub.operations.xref_import`, docs/operations.md)."""

from __future__ import annotations

from typing import Any

from utilhub.operations.wiring import cross_references, importable_entity_types
from utilhub.operations.xref_import import HEADER, XrefImportReport, import_export
from utilhub.platform.api_docs import Reply, Request
from utilhub.platform.dvm import domain_value_maps
from utilhub.platform.http import Body, HttpApiResolver, route

CSV = "text/csv"
SCHEMAS: dict[str, dict[str, Any]] = {
    "XrefExport": {
        "type": "string",
        "description": (
            f"CSV (RFC 4180, UTF-8): a header naming at least {','.join(HEADER)} (XREF_DATA's other columns are ignored), "
            "then one line per row of Oracle's XREF_DATA."
        ),
        "examples": [
            f"{','.join(HEADER)}\nCUSTOMERPARTY_PARTYID,SEBL_01,1001,1-ABC123,N\nCUSTOMERPARTY_PARTYID,OU_CCB_01,1001,0123456789,N\n"
        ],
    }
}


def _text(body: Body) -> str:
    return body.text or ""


def add_import_route(app: HttpApiResolver) -> None:
    """Declare the import on the operators' transactions resolver (the function that reads the cross-references)."""

    @route(
        app,
        "POST",
        "/ops/cross-references:import",
        request=Request("XrefExport", "Rows of Oracle's XREF_DATA, exported as CSV.", read=_text, text=CSV),
        idempotent=True,
        summary="Import Oracle's cross-references (cutover from the Oracle packs)",
        description=(
            "Links the ids AIA's XREF_DATA holds for each entity (the rows of one XREF_TABLE_NAME and ROW_NUMBER) in the "
            "hub's cross-references, tables and columns named through the domain value maps XrefEntityType and XrefSystem "
            "(CUSTOMERPARTY_PARTYID: Siebel account and CCB person; CUSTOMERPARTY_ACCOUNTID: Siebel account and CCB account). "
            "A Siebel account imported so is a synchronized customer for CU-02. Deleted rows, AIA's COMMON ids and tables "
            "or columns the hub does not link are skipped; a row that breaks a rule, and an entity one of whose ids is "
            "linked to another id already, are refused, never overwritten; links already there are skipped, so an import "
            "repeated changes nothing. The body is at most the hub's body limit (256 KiB by default, about 4,000 rows): "
            "`utilhub xref import FILE` sends a large export in parts, each entity's rows in one. 409 when a link was "
            "written otherwise while the import ran (import again)."
        ),
        replies=[Reply(200, "What became of each row.", XrefImportReport)],
        problems=[409],
        schemas=SCHEMAS,
    )
    def import_cross_references(text: str) -> tuple[int, Any]:
        report = import_export(text, cross_references(), domain_value_maps(), importable_entity_types())
        return 200, report.model_dump(mode="json")
