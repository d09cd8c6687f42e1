"""``python -m localhub`` (localhub.__main__): template parameters given on the command line."""

from __future__ import annotations

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
    ],
)
def test_a_value_the_template_would_refuse_is_refused_naming_why(pair: str, complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        parameter_overrides([pair], Template.load())
