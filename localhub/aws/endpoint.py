"""The embedded AWS endpoint: a moto server on loopback, with this process pointed at it.

moto gets the changes of :mod:`localhub.aws.patches.dynamodb` (transactions and queries whose cost does not
grow with the table, item operations one at a time), :mod:`localhub.aws.patches.sqs` (queue attributes
and message visibility without a scan per message, messages changed under the queue's lock),
:mod:`localhub.aws.patches.models` (no record of every object moto ever made) and :mod:`localhub.aws.patches.server`
(each request's backend found once per host, not under a lock for every request) before the server
starts. moto's ASL interpreter reaches S3 (a Distributed
Map's ItemReader) at ``http://localhost:<moto_server_port()>``, which is pointed at the server's port."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import requests


@contextmanager
def embedded_aws(host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Start a moto server (``port`` 0: a free one) and set ``AWS_ENDPOINT_URL`` and dummy credentials
    for the duration of the block; yields the endpoint URL."""
    from moto.server import ThreadedMotoServer

    from localhub.aws.patches import dynamodb as moto_dynamodb
    from localhub.aws.patches import models as moto_models
    from localhub.aws.patches import server as moto_server
    from localhub.aws.patches import sqs as moto_sqs
    from localhub.aws.patches import sqs_move_tasks as moto_sqs_move_tasks
    from localhub.aws.patches import stepfunctions_programs as moto_stepfunctions_programs
    from localhub.aws.patches import stepfunctions_threads as moto_stepfunctions_threads
    from utilhub.platform import aws

    moto_models.install()
    moto_server.install()
    moto_dynamodb.install()
    moto_sqs.install()
    moto_sqs_move_tasks.install()
    moto_stepfunctions_programs.install()
    moto_stepfunctions_threads.install()
    server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
    server.start()
    bound_host, bound_port = server.get_host_and_port()
    url = f"http://{bound_host}:{bound_port}"
    saved = dict(os.environ)
    os.environ.update(
        AWS_ENDPOINT_URL=url,
        AWS_ACCESS_KEY_ID=os.environ.get("AWS_ACCESS_KEY_ID", "local"),
        AWS_SECRET_ACCESS_KEY=os.environ.get("AWS_SECRET_ACCESS_KEY", "local"),
        AWS_DEFAULT_REGION=os.environ.get("AWS_DEFAULT_REGION", "eu-west-1"),
        AWS_REGION=os.environ.get("AWS_REGION", "eu-west-1"),
    )
    restore_interpreter = _point_asl_interpreter_at(bound_port)
    os.environ.pop("AWS_PROFILE", None)
    aws.reset_clients()
    try:
        yield url
    finally:
        restore_interpreter()
        server.stop()
        os.environ.clear()
        os.environ.update(saved)
        aws.reset_clients()


def _point_asl_interpreter_at(port: int) -> Callable[[], None]:
    """moto's ASL interpreter calls S3 (a Distributed Map's ItemReader, its ResultWriter) at
    ``http://localhost:<moto_server_port()>`` (``MOTO_PORT``, else 5000), not at ``AWS_ENDPOINT_URL``.
    The port is answered here, not through the environment, which a function's invocation replaces
    while the interpreter's threads run. Returns what puts moto's own lookup back."""
    from moto.stepfunctions.parser.asl.utils import boto_client

    original = getattr(boto_client, "moto_server_port")  # noqa: B009 - not in the module's exports
    setattr(boto_client, "moto_server_port", lambda: str(port))  # noqa: B010 - moto's module global, looked up at each call

    def restore() -> None:
        setattr(boto_client, "moto_server_port", original)  # noqa: B010

    return restore


def reset(endpoint: str) -> None:
    """Forget every resource of the endpoint (between tests)."""
    requests.post(f"{endpoint}/moto-api/reset", timeout=10).raise_for_status()
