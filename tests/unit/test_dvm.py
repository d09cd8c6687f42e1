"""Domain value maps (utilhub.platform.dvm): translation both ways, case-insensitive on the way in,
the COMMON code accepted from any source, unmapped values as 422s naming field and value, and what a
deployment's override may and may not hold. Pure: the shipped file and maps built here."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from utilhub.platform.dvm import DomainValueMaps, UnmappedValue, domain_value_maps, parse_maps, shipped_maps


@pytest.fixture
def maps() -> DomainValueMaps:
    return DomainValueMaps(dict(shipped_maps()))


@pytest.mark.parametrize(
    ("value", "brm"),
    [("Invoice", "10001"), ("credit card", "10003"), ("  DIRECT   debit ", "10005"), ("Check", "10001"), ("DIRECT_DEBIT", "10005")],
)
def test_siebel_payment_methods_become_brm_pay_types_whatever_their_case(maps: DomainValueMaps, value: str, brm: str) -> None:
    # Given Siebel's payment method as sent (any case, extra blanks, or the hub's COMMON code)
    # When it is translated to BRM
    found = maps.translate("PaymentMethod", value, source="SEBL", target="BRM", pointer="#/p")

    # Then BRM gets its own pay type
    assert found == brm


def test_translation_goes_both_ways_and_a_shared_target_value_reads_back_as_the_first_row(maps: DomainValueMaps) -> None:
    # Given BRM's invoice pay type, which both Invoice and Check map to
    # When it is read back to Siebel, and CCB's codes are read back too
    siebel = maps.lookup("PaymentMethod", "10001", source="BRM", target="SEBL")
    statement = maps.lookup("StatementFormat", "DETL", source="CCB", target="SEBL")

    # Then the first row wins, and every value maps back to Siebel's spelling
    assert siebel == "Invoice"
    assert statement == "Detailed"


def test_an_unmapped_value_is_a_422_naming_the_field_the_value_and_the_map(maps: DomainValueMaps) -> None:
    # Given a payment method no row has
    # When it is translated
    with pytest.raises(UnmappedValue) as raised:
        maps.translate("PaymentMethod", "Bitcoin", source="SEBL", target="BRM", pointer="#/lines/0/billingProfile/paymentMethod")

    # Then the problem names where, what and which map
    problem = raised.value.as_dict()
    assert problem["status"] == 422
    assert problem["errors"] == [
        {
            "pointer": "#/lines/0/billingProfile/paymentMethod",
            "detail": "'Bitcoin' has no BRM value in the domain value map PaymentMethod (from SEBL)",
        }
    ]


def test_a_translator_collects_every_unmapped_value_of_a_message(maps: DomainValueMaps) -> None:
    # Given one message's fields, two of them unmapped
    translate = maps.translator(source="SEBL", target="CCB")

    # When each is translated
    found = [
        translate("Country", "United Kingdom", "#/a/country"),
        translate("Country", "Atlantis", "#/b/country"),
        translate("BillRoute", "Pigeon", "#/c/billRoute"),
        translate("State", None, "#/d/state"),
    ]

    # Then mapped values come through, and one 422 names both others
    assert found == ["GBR", None, None, None]
    with pytest.raises(UnmappedValue) as raised:
        translate.check()
    assert [e.pointer for e in raised.value.errors] == ["#/b/country", "#/c/billRoute"]
    problem = raised.value.as_dict()
    assert (problem["status"], problem["title"], problem["detail"]) == (422, "Invalid request", "2 code value(s) have no mapping.")
    assert problem["type"].endswith("/unmapped-value")
    assert [e["detail"] for e in problem["errors"]] == [
        "'Atlantis' has no CCB value in the domain value map Country (from SEBL)",
        "'Pigeon' has no CCB value in the domain value map BillRoute (from SEBL)",
    ]


def test_a_translator_whose_message_fully_mapped_lets_the_message_through(maps: DomainValueMaps) -> None:
    # Given a message whose every coded field has a mapping (and one field left out)
    translate = maps.translator(source="SEBL", target="CCB")
    found = [translate("Country", "United Kingdom", "#/a/country"), translate("State", None, "#/b/state")]

    # When the message is checked
    translate.check()

    # Then nothing is refused, and the mapped value is there
    assert found == ["GBR", None]
    assert translate.errors == []


def test_an_unknown_map_is_a_configuration_error_naming_the_map(maps: DomainValueMaps) -> None:
    # Given a map name no shipped or overriding document holds
    # When a value is looked up in it
    with pytest.raises(KeyError) as raised:
        maps.lookup("Currency", "EUR", source="SEBL", target="CCB")

    # Then the error names the map (a coding or configuration error, not a 422)
    assert raised.value.args == ("no domain value map 'Currency'",)


def test_a_row_with_nothing_in_the_source_column_is_found_by_its_common_code_only() -> None:
    # Given a map whose second row has no Siebel value
    maps = DomainValueMaps(
        parse_maps(
            {
                "BillRoute": {
                    "columns": ["COMMON", "SEBL", "CCB"],
                    "rows": [{"COMMON": "POSTAL", "SEBL": "Mail", "CCB": "POST"}, {"COMMON": "FAX", "CCB": "FAX"}],
                }
            },
            "test",
        )
    )

    # When values are looked up from Siebel
    found = [maps.lookup("BillRoute", value, source="SEBL", target="CCB") for value in ("Mail", "fax", "Telex")]

    # Then Siebel's value and the COMMON code map, and a value no row has does not
    assert found == ["POST", "FAX", None]


def test_a_map_with_nothing_for_the_target_is_unmapped_for_that_target() -> None:
    # Given a map whose row has no BRM value
    maps = DomainValueMaps(
        parse_maps({"BillRoute": {"columns": ["COMMON", "SEBL", "BRM"], "rows": [{"COMMON": "FAX", "SEBL": "Fax"}]}}, "test")
    )

    # When Fax is translated to BRM
    found = maps.lookup("BillRoute", "Fax", source="SEBL", target="BRM")

    # Then there is no value
    assert found is None


@pytest.mark.parametrize(
    ("document", "fault"),
    [
        ({"M": {"columns": ["SEBL", "CCB"], "rows": [{"SEBL": "a", "CCB": "b"}]}}, "columns must include COMMON"),
        ({"M": {"columns": ["COMMON", "CCB"], "rows": [{"COMMON": "A", "BRM": "1"}]}}, "columns the map does not have"),
        ({"M": {"columns": ["COMMON", "CCB"], "rows": [{"COMMON": "A"}, {"COMMON": "a "}]}}, "same COMMON value"),
        ({"M": {"columns": ["COMMON", "CCB"], "rows": [{"CCB": "x"}]}}, "no COMMON value"),
        ({"M": {"columns": ["COMMON", "CCB"], "rows": []}}, "at least 1 item"),
        ({"M": "not a map"}, "valid dictionary"),
    ],
)
def test_an_override_that_is_not_a_set_of_maps_is_refused_with_the_reason(document: dict[str, Any], fault: str) -> None:
    # Given a malformed override
    # When it is parsed
    with pytest.raises(ValueError, match="is not a valid set of domain value maps") as raised:
        parse_maps(document, "the parameter")

    # Then the reason says what is wrong
    assert fault in str(raised.value)


def test_every_shipped_map_is_valid_and_maps_every_siebel_value_to_ccb() -> None:
    # Given the shipped maps
    maps = shipped_maps()

    # When each Siebel value is looked up for CCB
    missing = [
        (name, row["SEBL"])
        for name, table in maps.items()
        for row in table.rows
        if "SEBL" in row
        and "CCB" in table.columns
        and DomainValueMaps(dict(maps)).lookup(name, row["SEBL"], source="SEBL", target="CCB") is None
    ]

    # Then the Siebel codes the contract names are all there, and each maps to CCB
    assert {"PaymentMethod", "BillRoute", "StatementFormat", "AddressType", "ContactType", "Country", "State"} <= set(maps)
    assert {row["SEBL"] for row in maps["PaymentMethod"].rows} == {"Invoice", "Credit Card", "Direct Debit", "Check"}
    assert missing == []


Put = Callable[[str, str], None]


def _put_override(put: Put, document: dict[str, Any]) -> None:
    put("DOMAIN_VALUE_MAPS_PARAMETER", json.dumps(document))


def test_an_override_replaces_the_maps_it_names_and_keeps_the_others_as_shipped(configuration_parameter: Put) -> None:
    # Given a deployment whose parameter overrides the PaymentMethod map only
    _put_override(
        configuration_parameter,
        {"PaymentMethod": {"columns": ["COMMON", "SEBL", "BRM"], "rows": [{"COMMON": "INVOICE", "SEBL": "Bank Giro", "BRM": "10001"}]}},
    )

    # When the deployment's maps are read
    maps = domain_value_maps()

    # Then the named map is the override's (the shipped rows are gone), and the others are as shipped
    assert maps.lookup("PaymentMethod", "Bank Giro", source="SEBL", target="BRM") == "10001"
    assert maps.lookup("PaymentMethod", "Credit Card", source="SEBL", target="BRM") is None
    assert maps.maps["Country"] == shipped_maps()["Country"]


def test_a_changed_override_is_read_once_its_max_age_has_passed(configuration_parameter: Put) -> None:
    # Given an override read once, then changed (the deployment's max age is 0 s)
    first = {"BillRoute": {"columns": ["COMMON", "SEBL", "CCB"], "rows": [{"COMMON": "POSTAL", "SEBL": "Mail", "CCB": "POST"}]}}
    _put_override(configuration_parameter, first)
    before = domain_value_maps().lookup("BillRoute", "Mail", source="SEBL", target="CCB")
    first["BillRoute"]["rows"] = [{"COMMON": "POSTAL", "SEBL": "Mail", "CCB": "LETTER"}]
    _put_override(configuration_parameter, first)

    # When the maps are read again
    after = domain_value_maps().lookup("BillRoute", "Mail", source="SEBL", target="CCB")

    # Then the change is in force
    assert (before, after) == ("POST", "LETTER")


def test_an_empty_override_keeps_every_shipped_map(configuration_parameter: Put) -> None:
    # Given a parameter that holds {} (nothing overridden)
    configuration_parameter("DOMAIN_VALUE_MAPS_PARAMETER", "{}")

    # When the deployment's maps are read
    maps = domain_value_maps()

    # Then they are the shipped ones
    assert maps.maps == shipped_maps()
