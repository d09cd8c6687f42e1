"""The templates themselves: what every function shares is said once, and their size stays within its goals."""

from __future__ import annotations

from localhub.template import LocalStack, Template

TEMPLATE = Template.load()


def test_every_function_logs_to_a_kept_and_encrypted_log_group() -> None:
    # Given the template's functions (cfn-lint's WS1004 looks only for per-function /aws/lambda/<name> groups)
    functions = list(TEMPLATE.of_type("AWS::Serverless::Function"))
    assert len(functions) >= 30
    stack = LocalStack(TEMPLATE)
    for logical_id, resource in functions:
        # When its logging configuration is read (its own, or the Globals')
        logging = resource["Properties"].get("LoggingConfig", TEMPLATE.function_globals.get("LoggingConfig", {}))
        # Then it names a log group of the template with a retention and the data key
        group = logging.get("LogGroup", {}).get("Ref")
        assert group in TEMPLATE.resources, f"{logical_id} logs to no log group of the template"
        properties = TEMPLATE.resources[group]["Properties"]
        assert 1 <= int(stack.resolve(properties["RetentionInDays"])) <= 400, f"{group}: no retention"
        assert properties.get("KmsKeyId") == {"Fn::GetAtt": ["DataKey", "Arn"]}, f"{group}: not encrypted with DataKey"
        assert logging.get("LogFormat") == "JSON"
