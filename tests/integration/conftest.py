"""Integration fixtures: the template's resources in moto, the functions run in-process,
the MDM simulator over HTTP. Nothing about the topology is restated here.

Every AWS call a function makes during a test is held to that function's policies in the template
(localhub/aws/iam.py): a call its role would be denied on AWS fails the test."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from localhub.aws.endpoint import reset
from localhub.aws.iam import AwsCalls, denied
from localhub.hub import LocalHub
from utilhub.platform import wiring


@pytest.fixture
def aws_calls() -> AwsCalls:
    """The AWS calls the functions make during the test (recorded once the hub has started)."""
    return AwsCalls()


@pytest.fixture
def hub(aws_endpoint: str, aws_calls: AwsCalls) -> Iterator[LocalHub]:
    reset(aws_endpoint)
    local = LocalHub().start()
    calls = aws_calls.install()
    local.drain()  # S3's test event, sent to the transfer queue when the bucket's notifications were set up
    yield local
    assert local.stop() == []  # no test leaves an execution running behind it
    calls.uninstall()
    assert local.stack is not None
    assert denied(local.stack, calls.calls, wiring.caller_user_id) == []  # each call allowed by its function's policies
    assert os.environ["AWS_ENDPOINT_URL"] == aws_endpoint  # no function environment leaked out
