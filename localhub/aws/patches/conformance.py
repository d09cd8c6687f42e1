"""``make moto-conformance``: moto's own DynamoDB, SQS and Step Functions interpreter test suites, run with
:mod:`localhub.aws.patches.dynamodb`, :mod:`localhub.aws.patches.sqs`, :mod:`localhub.aws.patches.models`,
:mod:`localhub.aws.patches.sqs_move_tasks`, :mod:`localhub.aws.patches.stepfunctions_programs` and
:mod:`localhub.aws.patches.stepfunctions_threads` applied.

The suite comes from the sdist of the moto release ``uv.lock`` pins (its URL and sha256 are read
from the lock file, the archive is checked against the hash and cached under ``.tools/``); nothing
of it is copied into this repository. Its tests of transactions, queries, indexes, streams, queues,
FIFO groups, deduplication and attributes must all pass with our changes to moto, as they pass
without them; so must the Step Functions interpreter's tests of its states. (``test_sqs_integration.py`` and the
Step Functions' Lambda integration tests are left out: they run Lambda functions in Docker.)

    python -m localhub.aws.patches.conformance [pytest arguments, e.g. -k transact]

It is also a pytest plugin (``-p localhub.aws.patches.conformance``): it installs the changes before
the first test and checks at the end that they were in place for the whole run.
"""

from __future__ import annotations

import hashlib
import io
import sys
import tarfile
import tomllib
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[3]
CACHE = ROOT / ".tools" / "moto-tests"
# What the suites import from moto's test tree besides themselves.
MEMBERS = (
    "tests/__init__.py",
    "tests/conftest.py",
    "tests/markers.py",
    "tests/test_s3/__init__.py",
    "tests/test_stepfunctions/__init__.py",
    "tests/test_stepfunctions/test_stepfunctions.py",  # a definition the interpreter's tests borrow
)
SUITES = ("tests/test_dynamodb/", "tests/test_sqs/", "tests/test_stepfunctions/parser/")
LEFT_OUT = (
    "tests/test_sqs/test_sqs_integration.py",
    # they run Lambda functions in Docker
    "tests/test_stepfunctions/parser/test_stepfunctions_lambda_integration.py",
    "tests/test_stepfunctions/parser/test_stepfunctions_lambda_retry_integration.py",
)


def locked_sdist(lock_file: Path = ROOT / "uv.lock") -> tuple[str, str, str]:
    """(version, URL, sha256) of the moto sdist the lock file pins."""
    lock = tomllib.loads(lock_file.read_text(encoding="utf-8"))
    package = next(p for p in lock["package"] if p["name"] == "moto")
    sdist = package["sdist"]
    algorithm, _, digest = sdist["hash"].partition(":")
    if algorithm != "sha256":
        raise ValueError(f"unexpected hash algorithm {algorithm} for moto's sdist in uv.lock")
    return package["version"], sdist["url"], digest


def suite(version: str, url: str, sha256: str) -> Path:
    """The extracted test tree of moto ``version`` (downloaded and checked once)."""
    target = CACHE / version
    if all((target / suite).is_dir() for suite in SUITES) and all((target / member).is_file() for member in MEMBERS):
        return target
    archive = CACHE / f"moto-{version}.tar.gz"
    if not archive.exists() or hashlib.sha256(archive.read_bytes()).hexdigest() != sha256:
        with urllib.request.urlopen(url, timeout=120) as response:  # noqa: S310 - the https URL from uv.lock
            data = response.read()
        if hashlib.sha256(data).hexdigest() != sha256:
            raise RuntimeError(f"{url} does not match the sha256 in uv.lock")
        CACHE.mkdir(parents=True, exist_ok=True)
        archive.write_bytes(data)
    prefix = f"moto-{version}/"
    with tarfile.open(fileobj=io.BytesIO(archive.read_bytes()), mode="r:gz") as tar:
        members = [
            m
            for m in tar.getmembers()
            if m.isfile() and m.name.startswith(prefix) and (m.name[len(prefix) :] in MEMBERS or m.name[len(prefix) :].startswith(SUITES))
        ]
        for member in members:
            member.name = member.name[len(prefix) :]
        tar.extractall(target, members=members, filter="data")
    # the suite's own (empty) configuration, so pytest does not take this repository's
    (target / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    return target


def pytest_configure(config: Any) -> None:
    from localhub.aws.patches import dynamodb as moto_dynamodb
    from localhub.aws.patches import models as moto_models
    from localhub.aws.patches import sqs as moto_sqs
    from localhub.aws.patches import sqs_move_tasks as moto_sqs_move_tasks
    from localhub.aws.patches import stepfunctions_programs as moto_stepfunctions_programs
    from localhub.aws.patches import stepfunctions_threads as moto_stepfunctions_threads

    moto_models.install()
    moto_dynamodb.install()
    moto_sqs.install()
    moto_sqs_move_tasks.install()
    moto_stepfunctions_programs.install()
    moto_stepfunctions_threads.install()


def pytest_sessionfinish(session: Any, exitstatus: int) -> None:
    import moto.sqs.models as sqs_models
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table
    from moto.stepfunctions.parser.backend import execution_worker
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

    from localhub.aws.patches import dynamodb as moto_dynamodb
    from localhub.aws.patches import sqs as moto_sqs
    from localhub.aws.patches import stepfunctions_programs as moto_stepfunctions_programs
    from localhub.aws.patches import stepfunctions_threads as moto_stepfunctions_threads

    transact = getattr(DynamoDBBackend.transact_write_items, "__wrapped__", None)
    if Table.query is not moto_dynamodb.query or transact is not moto_dynamodb.transact_write_items:
        raise RuntimeError("moto's DynamoDB was not patched during the conformance run")
    if sqs_models.unix_time_millis is not moto_sqs.unix_time_millis:  # type: ignore[attr-defined]
        raise RuntimeError("moto's SQS was not patched during the conformance run")
    if ExecutionWorker._get_evaluation_entrypoint is not moto_stepfunctions_programs._get_evaluation_entrypoint:
        raise RuntimeError("moto's Step Functions was not patched during the conformance run")
    if not isinstance(execution_worker.TMP_THREADS, moto_stepfunctions_threads.LiveThreads):  # type: ignore[attr-defined]
        raise RuntimeError("moto's Step Functions threads were not patched during the conformance run")


def main(argv: list[str]) -> int:
    import moto
    import pytest

    version, url, sha256 = locked_sdist()
    if moto.__version__ != version:
        raise SystemExit(f"installed moto {moto.__version__} is not the locked {version}: run make install")
    tree = suite(version, url, sha256)
    sys.path.insert(0, str(tree))
    return int(
        pytest.main(
            [
                *(str(tree / suite) for suite in SUITES),
                *(f"--ignore={tree / path}" for path in LEFT_OUT),
                "-c",
                str(tree / "pytest.ini"),
                "--rootdir",
                str(tree),
                "-p",
                "localhub.aws.patches.conformance",
                "-p",
                "no:cacheprovider",
                "-q",
                "-W",
                "ignore",
                *argv,
            ]
        )
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
