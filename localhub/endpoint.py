"""The embedded AWS endpoint: a moto server on loopback, with this process pointed at it.

moto gets the changes of :mod:`localhub.moto_dynamodb` (transactions and queries whose cost does not
grow with the table, item operations one at a time) and :mod:`localhub.moto_sqs` (queue attributes
and message visibility without a scan per message) and :mod:`localhub.moto_models` (no record of every
object moto ever made) before the server starts. moto's ASL interpreter reaches S3 (a Distributed
Map's ItemReader) through ``MOTO_PORT``, which is set to the server's port."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import requests


@contextmanager
def embedded_aws(host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Start a moto server (``port`` 0: a free one) and set ``AWS_ENDPOINT_URL`` and dummy credentials
    for the duration of the block; yields the endpoint URL."""
    from moto.server import ThreadedMotoServer

    from localhub import moto_dynamodb, moto_models, moto_sqs
    from utilhub.platform import aws

    moto_models.install()
    moto_dynamodb.install()
    moto_sqs.install()
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
        # moto's ASL interpreter calls S3 (a Distributed Map's ItemReader and ResultWriter) at
        # http://localhost:$MOTO_PORT, not at AWS_ENDPOINT_URL: point it at this server
        MOTO_PORT=str(bound_port),
    )
    os.environ.pop("AWS_PROFILE", None)
    aws.reset_clients()
    try:
        yield url
    finally:
        server.stop()
        os.environ.clear()
        os.environ.update(saved)
        aws.reset_clients()


def reset(endpoint: str) -> None:
    """Forget every resource of the endpoint (between tests)."""
    requests.post(f"{endpoint}/moto-api/reset", timeout=10).raise_for_status()
