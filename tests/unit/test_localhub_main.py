"""``python -m localhub`` (localhub.__main__): template parameters given on the command line."""

from __future__ import annotations

from pathlib import Path

import pytest

from localhub.__main__ import parameter_overrides
from localhub.template import Template


def test_a_parameter_of_the_template_is_taken() -> None:
    # Given the template, When MetersManagedIn=MDM is given, Then it overrides the parameter's default
    assert parameter_overrides(["MetersManagedIn=MDM"], Template.load()) == {"MetersManagedIn": "MDM"}


@pytest.mark.parametrize(
    ("pair", "complaint"),
    [
        ("MetersManagedIn=ODM", "must be one of CCB, MDM"),
        ("NoSuchParameter=1", "is not Name=Value"),
        ("MetersManagedIn", "is not Name=Value"),
        ("CcbBaseUrl=http://ccb.example.com/utilhub", "must match"),  # customer data never in clear text
        ("MdmBaseUrl=ftp://mdm.example.com", "must match"),
        ("OdmBaseUrl=http://127.0.0.1.example.com:8080", "must match"),
    ],
)
def test_a_value_the_template_would_refuse_is_refused_naming_why(pair: str, complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        parameter_overrides([pair], Template.load())


@pytest.mark.parametrize("url", ["https://ccb.example.com/utilhub", "http://127.0.0.1:41234", "http://127.0.0.1/sim"])
def test_a_base_url_over_https_or_to_the_local_runtime_is_taken(url: str) -> None:
    assert parameter_overrides([f"CcbBaseUrl={url}"], Template.load()) == {"CcbBaseUrl": url}


def test_the_function_logs_go_to_the_file_the_banner_names_with_each_function_labelled_by_its_points(tmp_path: Path) -> None:
    from localhub.__main__ import function_logs, logs_line

    quiet = function_logs(Template.load(), str(tmp_path / "functions.log"), verbose=False)
    verbose = function_logs(Template.load(), str(tmp_path / "verbose.log"), verbose=True)

    assert quiet.label("OrderToCashOrdersFunction") == "OC-01,OC-02"
    assert quiet.label("MeterDataUsageRequestsFunction") == "MD-11"
    assert str(tmp_path / "functions.log") in logs_line(quiet)
    assert "one line per hop" in logs_line(quiet)
    assert "--verbose" in logs_line(verbose)
    assert "one line per hop" not in logs_line(verbose)
    quiet.close()
    verbose.close()
