"""Configuration a deployment overrides without code: a JSON document shipped with the library,
replaced or extended by the text of an SSM parameter (read with Powertools Parameters on the library's client, cached for
``max_age`` seconds). The domain value maps and the field work routing rules are kept this way."""

from __future__ import annotations


def override_text(parameter_name: str | None, max_age: int) -> str:
    """The parameter's JSON text, or "" when no parameter is configured or it holds ``{}`` (keep what is shipped)."""
    if not parameter_name:
        return ""
    from utilhub.platform import aws

    value = aws.parameters("ssm").get(parameter_name, max_age=max_age)
    text = value.strip() if isinstance(value, str) else ""
    return "" if text in ("{}", "") else text
