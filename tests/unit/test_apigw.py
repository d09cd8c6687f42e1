"""The local runtime's API Gateway events (localhub.apigw.events): query string parameters as payload 2.0
gives them. Pure."""

from __future__ import annotations

from localhub.apigw.events import http_event, query_string_parameters


def test_query_parameters_are_decoded_and_repeated_names_joined_with_commas() -> None:
    # Given a raw query with an encoded value, a repeated name and an empty value
    # When it is read as API Gateway reads it
    found = query_string_parameters("address=12%20Evergreen&type=A&type=B&empty=")

    # Then each name has its decoded value, repeated ones joined
    assert found == {"address": "12 Evergreen", "type": "A,B", "empty": ""}


def test_an_event_carries_its_query_both_raw_and_parsed_and_none_without_one() -> None:
    with_query = http_event("GET", "/x", route_key="GET /x", query="a=1&b=2")
    without = http_event("GET", "/x", route_key="GET /x")
    assert (with_query["rawQueryString"], with_query["queryStringParameters"]) == ("a=1&b=2", {"a": "1", "b": "2"})
    assert "queryStringParameters" not in without
