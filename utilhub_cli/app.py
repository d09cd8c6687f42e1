"""``utilhub``: the operators' command line over the operations API (``/ops``, docs/operations.md#cli).

Every command talks to ``make run``'s hub by default (``--hub URL``, its local ``ops`` client) or to a deployed
stack (``--stack NAME``), and prints tables for people or, with ``--json``, JSON for scripts.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from utilhub_cli.extract import SOURCE_PREFIX, InitialExtract
from utilhub_cli.hub import (
    DEFAULT_HUB,
    LOCAL_AWS_ENDPOINT,
    LOCAL_OPS_CLIENT,
    ApiError,
    Deployment,
    OpsApi,
    as_json,
    local_deployment,
    stack_deployment,
)
from utilhub_cli.xref_import import MAX_PART_ROWS, ImportTotals, export_parts

STATES = ("RECEIVED", "IN_FLIGHT", "COMPLETED", "FAILED")
STYLES = {
    "RECEIVED": "cyan",
    "IN_FLIGHT": "yellow",
    "COMPLETED": "green",
    "SUCCEEDED": "green",
    "FAILED": "bold red",
    "RUNNING": "yellow",
    "TIMED_OUT": "bold red",
    "ABORTED": "bold red",
}
REPORT_STYLES = (("imported", "green"), ("skipped", ""), ("refused", "bold red"), ("entitiesLinked", ""))
FIND_FIELDS = ("point", "id", "state", "reason")  # what `find --json` prints of each transaction


@dataclass
class Context:
    """What the group's options chose: how to reach the hub, and the consoles (results on stdout, progress on stderr)."""

    connect: Callable[[], Deployment]
    transport: httpx.BaseTransport | None = None
    _deployment: Deployment | None = None
    _api: OpsApi | None = None

    @property
    def deployment(self) -> Deployment:
        if self._deployment is None:
            self._deployment = self.connect()
        return self._deployment

    @property
    def api(self) -> OpsApi:
        if self._api is None:
            self._api = OpsApi(self.deployment, self.transport)
        return self._api

    def close(self) -> None:
        if self._api is not None:
            self._api.close()


def console() -> Console:
    return Console(highlight=False, soft_wrap=False, width=None if os.environ.get("COLUMNS") else 160)


def progress_console() -> Console:
    return Console(stderr=True)


def styled(value: Any) -> Text:
    text = "" if value is None else str(value)
    return Text(text, style=STYLES.get(text, ""))


def emit_json(value: Any) -> None:
    click.echo(as_json(value))


json_option = click.option("--json", "as_json_", is_flag=True, help="print JSON for scripts instead of tables")


class Failed(click.ClickException):
    """An answer of the hub that is not a success, told as its problem's title and detail; exit status 1."""

    def __init__(self, error: ApiError) -> None:
        super().__init__(str(error))
        self.error = error

    def show(self, file: Any = None) -> None:
        Console(stderr=True).print(Text(f"error: {self.error}", style="bold red"))


@contextmanager
def refusals() -> Iterator[None]:
    try:
        yield
    except ApiError as error:
        raise Failed(error) from None
    except httpx.TransportError as exc:
        raise click.ClickException(f"cannot reach the hub: {exc}") from None


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 120})
@click.option(
    "--hub",
    "hub_url",
    default=DEFAULT_HUB,
    show_default=True,
    envvar="UTILHUB_HUB",
    help="a local hub's URL (make run's), called with its local ops client",
)
@click.option(
    "--stack", envvar="UTILHUB_STACK", help="a deployed stack's name: its outputs and the operators' client (Cognito) instead of --hub"
)
@click.option("--region", envvar="AWS_REGION", help="the stack's region (with --stack; default: boto3's)")
@click.option("--client-id", default=LOCAL_OPS_CLIENT, show_default=True, help="the local client to call with (with --hub)")
@click.option("--client-secret", help="its secret (with --hub; default <client-id>-local-secret)")
@click.option(
    "--aws-endpoint",
    default=LOCAL_AWS_ENDPOINT,
    show_default=True,
    envvar="UTILHUB_AWS_ENDPOINT",
    help="the local hub's embedded AWS (with --hub, for extract)",
)
@click.pass_context
def cli(
    ctx: click.Context,
    hub_url: str,
    stack: str | None,
    region: str | None,
    client_id: str,
    client_secret: str | None,
    aws_endpoint: str,
) -> None:
    """Operate a utilhub hub: status, find and trace transactions, resubmit, redrive, cross-references, DACS's initial extract."""
    if isinstance(ctx.obj, Context):  # given by a caller that chose the hub already (the tests' transport)
        return

    def connect() -> Deployment:
        with refusals():
            if stack:
                return stack_deployment(stack, region)
            return local_deployment(hub_url, client_id, client_secret, aws_endpoint)

    ctx.obj = Context(connect)
    ctx.call_on_close(ctx.obj.close)


pass_context = click.make_pass_decorator(Context)


@cli.command()
@click.option("--since", help="count from this ISO-8601 UTC time (default: the API's)")
@json_option
@pass_context
def status(context: Context, since: str | None, as_json_: bool) -> None:
    """Per integration point: received, completed, failed, in flight, oldest waiting; and every dead-letter queue's depth."""
    with refusals():
        summary = context.api.summary(since)
        dead_letters = context.api.dead_letters()
    if as_json_:
        emit_json({"summary": summary, "deadLetters": dead_letters})
        return
    out = console()
    table = Table(title=f"Integration points since {summary.get('since') or 'the start'}", title_justify="left")
    for column in ("point", "received", "completed", "failed", "in flight", "oldest waiting"):
        table.add_column(column, justify="left" if column in ("point", "oldest waiting") else "right")
    for point in summary.get("points", []):
        failed = int(point.get("failed") or 0)
        table.add_row(
            point["point"],
            str(point.get("received", 0)),
            Text(str(point.get("completed", 0)), style="green"),
            Text(str(failed), style="bold red" if failed else ""),
            Text(str(point.get("inFlight", 0)), style="yellow"),
            str(point.get("oldestWaiting") or "-"),
        )
    out.print(table)
    out.print(dead_letter_table(dead_letters))


def dead_letter_table(dead_letters: dict[str, Any]) -> Table:
    table = Table(title="Dead-letter queues", title_justify="left")
    for column in ("queue", "messages", "in flight", "oldest"):
        table.add_column(column, justify="right" if column in ("messages", "in flight") else "left")
    for queue in dead_letters.get("items", []):
        waiting = int(queue.get("messages") or 0)
        table.add_row(
            queue["queue"],
            Text(str(waiting), style="bold red" if waiting else "green"),
            str(queue.get("inFlight", 0)),
            str(queue.get("oldestAt") or "-"),
        )
    return table


@cli.command()
@click.option("--point", help="an integration point's catalogue id (OC-01, MD-01, FW-01, ...)")
@click.option("--state", type=click.Choice(STATES, case_sensitive=False), help="the normalised state")
@click.option("--since", help="updated at or after this ISO-8601 UTC time")
@click.option("--limit", type=click.IntRange(1), default=50, show_default=True, help="at most this many (pages followed)")
@json_option
@pass_context
def find(context: Context, point: str | None, state: str | None, since: str | None, limit: int, as_json_: bool) -> None:
    """Transactions of every pack; an ID found here is what `trace` and `resubmit` take."""
    with refusals():
        items = list(context.api.find(point=point, state=state.upper() if state else None, since=since, limit=limit))
    if as_json_:
        emit_json([{field: item.get(field) for field in FIND_FIELDS} for item in items])
        return
    table = Table(title=f"{len(items)} transaction(s)", title_justify="left")
    for column in ("point", "id", "state", "updated", "reason"):
        table.add_column(column, overflow="fold")
    for item in items:
        table.add_row(item.get("point"), item.get("id"), styled(item.get("state")), item.get("updatedAt") or "", item.get("reason") or "")
    console().print(table)


@cli.command()
@click.argument("point")
@click.argument("transaction_id", metavar="ID")
@json_option
@pass_context
def trace(context: Context, point: str, transaction_id: str, as_json_: bool) -> None:
    """One transaction and its timeline: every hop from intake to the target's answer, attempts included."""
    with refusals():
        transaction = context.api.transaction(point, transaction_id)
    if as_json_:
        emit_json(transaction)
        return
    out = console()
    heading = Text.assemble(
        (f"{transaction.get('point')} {transaction.get('id')}  ", "bold"),
        styled(transaction.get("state")),
        (f" ({transaction['detailState']})" if transaction.get("detailState") else "", "dim"),
        (f"  updated {transaction.get('updatedAt')}" if transaction.get("updatedAt") else "", "dim"),
    )
    out.print(heading)
    if transaction.get("reason"):
        out.print(Text(f"reason: {transaction['reason']}", style="red"))
    table = Table(title_justify="left")
    for column in ("at", "step", "system", "outcome", "detail"):
        table.add_column(column, overflow="fold")
    for hop in transaction.get("timeline", []):
        table.add_row(hop.get("at"), hop.get("step"), hop.get("system"), outcome_text(hop.get("outcome")), hop.get("detail") or "")
    out.print(table)


def outcome_text(outcome: Any) -> Text:
    text = "" if outcome is None else str(outcome)
    upper = text.upper()
    if any(word in upper for word in ("FAIL", "ERROR", "REFUS", "REJECT", "TIMED", "UNAVAILABLE", "DEAD")):
        return Text(text, style="red")
    if any(word in upper for word in ("OK", "SUCC", "COMPLET", "ACCEPT", "SYNCHRONIZED", "CREATED", "DELIVERED", "SENT")):
        return Text(text, style="green")
    return Text(text)


@cli.command()
@click.argument("point", required=False)
@click.argument("transaction_id", metavar="[ID]", required=False)
@click.option("--point", "filter_point", help="bulk: every matching transaction of this point")
@click.option("--state", type=click.Choice(["FAILED"], case_sensitive=False), help="bulk: the state to resubmit (FAILED)")
@click.option("--since", help="bulk: updated at or after this ISO-8601 UTC time")
@json_option
@pass_context
def resubmit(
    context: Context,
    point: str | None,
    transaction_id: str | None,
    filter_point: str | None,
    state: str | None,
    since: str | None,
    as_json_: bool,
) -> None:
    """Run a failed transaction again (POINT ID), or every failed one a filter matches (--state FAILED [--point] [--since])."""
    if point is not None or transaction_id is not None:
        if transaction_id is None or point is None:
            raise click.UsageError("resubmit takes POINT and ID together (or a filter: --state FAILED)")
        if filter_point or state or since:
            raise click.UsageError("resubmit takes POINT ID or a filter, not both")
        with refusals():
            answer = context.api.resubmit(point, transaction_id)
        if as_json_:
            emit_json(answer)
            return
        console().print(
            Text.assemble(f"{answer.get('point', point)} {answer.get('id', transaction_id)} resubmitted: ", styled(answer.get("state")))
        )
        return
    if state is None:
        raise click.UsageError("resubmit takes POINT ID, or a filter with --state FAILED")
    with refusals(), progress_console().status("resubmitting..."):
        answer = resubmit_all(context, point=filter_point, state=state.upper(), since=since)
    if as_json_:
        emit_json(answer)
    else:
        console().print(
            Text.assemble(
                ("resubmitted ", ""),
                (str(answer["resubmitted"]), "bold green"),
                (", refused ", ""),
                (str(len(answer["refused"])), "bold"),
                (", failed ", ""),
                (str(len(answer["failed"])), "bold red" if answer["failed"] else "bold"),
            )
        )
        for outcome in answer["refused"]:
            console().print(Text(f"  refused {outcome['point']} {outcome['id']}: {outcome['status']} {outcome['reason']}"))
        for outcome in answer["failed"]:
            console().print(Text(f"  failed  {outcome['point']} {outcome['id']}: {outcome['status']} {outcome['reason']}", style="red"))
        if answer["failed"]:
            console().print(Text("the failed were not resubmitted: run the same command again, or `resubmit POINT ID`", style="yellow"))
    if answer["failed"]:
        raise SystemExit(1)


def resubmit_all(context: Context, *, point: str | None, state: str, since: str | None) -> dict[str, Any]:
    """Every transaction of the filter, call after call: each call that ran out of time gives the cursor the next
    continues from (past those it tried, the refused included); the answers summed."""
    total: dict[str, Any] = {"resubmitted": 0, "refused": [], "failed": []}
    cursor: str | None = None
    while True:
        answer = context.api.resubmit_matching(point=point, state=state, since=since, cursor=cursor)
        total["resubmitted"] += int(answer.get("resubmitted", 0))
        total["refused"] += list(answer.get("refused", []))
        total["failed"] += list(answer.get("failed", []))
        if not answer.get("remaining"):
            return total
        cursor = answer.get("cursor")


@cli.command()
@click.argument("queue")
@json_option
@pass_context
def redrive(context: Context, queue: str, as_json_: bool) -> None:
    """Send the messages of dead-letter queue QUEUE (<pack>/<queue>, as `status` lists it) back to their source queue."""
    with refusals():
        answer = context.api.redrive(queue)
    if as_json_:
        emit_json(answer)
        return
    console().print(f"redriving {answer.get('messages')} message(s) of {answer.get('queue', queue)} (task {answer.get('taskHandle')})")


class LookupByDefault(click.Group):
    """``xref SYSTEM ID`` is the lookup; ``xref import FILE`` the import (any first word not a subcommand is a SYSTEM)."""

    def resolve_command(self, ctx: click.Context, args: list[str]) -> tuple[str | None, click.Command | None, list[str]]:
        if args and args[0] not in self.commands:
            args = ["lookup", *args]
        return super().resolve_command(ctx, args)


@cli.group(cls=LookupByDefault)
def xref() -> None:
    """Cross-references: `xref SYSTEM ID` (an entity's id in every system), `xref import FILE` (Oracle's XREF_DATA)."""


@xref.command("lookup")
@click.argument("system")
@click.argument("entity_id", metavar="ID")
@json_option
@pass_context
def xref_lookup(context: Context, system: str, entity_id: str, as_json_: bool) -> None:
    """An entity's id in every system, from its id in SYSTEM (CCB, MDM, SEBL, BRM, MWM, WAM, ODM, DACS)."""
    with refusals():
        answer = context.api.cross_references(system, entity_id)
    if as_json_:
        emit_json(answer)
        return
    table = Table(title=f"{answer.get('system', system)} {answer.get('id', entity_id)}", title_justify="left")
    table.add_column("system")
    table.add_column("id")
    for name, value in sorted(answer.get("ids", {}).items()):
        table.add_row(Text(name, style="bold" if name == system else ""), str(value))
    console().print(table)


@xref.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--rows-per-request", type=click.IntRange(1, 4_000), default=MAX_PART_ROWS, show_default=True, help="rows sent per request")
@json_option
@pass_context
def xref_import(context: Context, file: Path, rows_per_request: int, as_json_: bool) -> None:
    """Import Oracle's cross-references: FILE is XREF_DATA exported as CSV (XREF_TABLE_NAME, XREF_COLUMN_NAME,
    ROW_NUMBER, VALUE, IS_DELETED). Sent in parts of whole entities, with a progress bar; then what became of the
    rows: imported, skipped, refused, with the reasons and the file's lines. Importing a file again changes nothing."""
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise click.ClickException(f"{file} is not UTF-8 text: {exc}") from None
    parts = list(export_parts(text, max_rows=rows_per_request))
    totals = ImportTotals()
    bar = Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("rows"),
        TimeElapsedColumn(),
        console=progress_console(),
        transient=as_json_,
    )
    with refusals(), bar:
        task = bar.add_task(f"importing {file.name}", total=sum(part.rows for part in parts))
        for part in parts:
            totals.add(part, context.api.import_cross_references(part.text))
            bar.advance(task, part.rows)
    report = totals.as_dict()
    if as_json_:
        emit_json(report)
        return
    out = console()
    counts = Table(title=f"{file.name}: {report['rows']} rows in {report['parts']} request(s)", title_justify="left")
    for name in ("imported", "skipped", "refused", "entitiesLinked"):
        counts.add_column(name, justify="right")
    counts.add_row(*(Text(str(report[name]), style=style) for name, style in REPORT_STYLES))
    out.print(counts)
    if report["reasons"]:
        reasons = Table(title="why rows were skipped or refused", title_justify="left")
        reasons.add_column("outcome")
        reasons.add_column("rows", justify="right")
        reasons.add_column("reason")
        reasons.add_column("lines (first)")
        for reason in report["reasons"]:
            style = "bold red" if reason["outcome"] == "refused" else ""
            lines = ", ".join(str(n) for n in reason["lines"])
            reasons.add_row(Text(reason["outcome"], style=style), str(reason["rows"]), reason["reason"], lines)
        out.print(reasons)


@cli.group("console")
def console_group() -> None:
    """The web console of a deployed stack (make run serves it locally at /console)."""


@console_group.command("publish")
@click.option("--stack", "stack_name", required=True, envvar="UTILHUB_STACK", help="the deployed stack (Console=true)")
@click.option("--region", envvar="AWS_REGION", help="the stack's region (default: boto3's)")
@json_option
def console_publish(stack_name: str, region: str | None, as_json_: bool) -> None:
    """Upload console/ and its config.json (API, hosted UI, client id) to the stack's console bucket; invalidate CloudFront."""
    import boto3

    from utilhub_cli.console import publish

    session = boto3.session.Session(region_name=region)
    with refusals():
        published = publish(stack_name, lambda service: session.client(service))  # type: ignore[call-overload]
    if as_json_:
        emit_json({"url": published.url, "bucket": published.bucket, "files": published.files, "invalidation": published.invalidation})
        return
    console().print(f"published {len(published.files)} files to s3://{published.bucket}; open {published.url}")


@cli.group()
def extract() -> None:
    """DA-01: CCB's initial extract for DACS (start a run, follow it to its summary)."""


@extract.command("start")
@click.option("--source", "source_key", help=f"CCB's JSON Lines extract, a key under {SOURCE_PREFIX} of the exchange bucket")
@click.option(
    "--file", "source_file", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="upload this file as the source first"
)
@click.option("--run-id", help="the run's id (letters, digits, _ . -); default initial-<UTC time>")
@click.option(
    "--persons-per-part", type=click.IntRange(1), default=100_000, show_default=True, help="persons per part (one child execution)"
)
@click.option("--follow/--no-follow", default=False, help="follow the run with a progress bar until it ends")
@json_option
@pass_context
def extract_start(
    context: Context,
    source_key: str | None,
    source_file: Path | None,
    run_id: str | None,
    persons_per_part: int,
    follow: bool,
    as_json_: bool,
) -> None:
    """Start a DA-01 run over CCB's extract (``--source`` in the bucket, or ``--file`` uploaded under ccb/)."""
    if source_key is None and source_file is None:
        raise click.UsageError("extract start needs --source KEY or --file PATH")
    run_id = run_id or time.strftime("initial-%Y%m%dT%H%M%SZ", time.gmtime())
    key = source_key or f"{SOURCE_PREFIX}{run_id}-{uuid.uuid4().hex[:8]}.jsonl"
    runs = InitialExtract(context.deployment)
    with refusals():
        if source_file is not None:
            runs.upload(source_file, key)
        arn = runs.start(run_id, key, persons_per_part)
    if follow:
        follow_run(runs, run_id, as_json_)
        return
    if as_json_:
        emit_json({"runId": run_id, "sourceKey": key, "executionArn": arn})
        return
    console().print(f"DA-01 run [bold]{run_id}[/bold] started over {key}; follow it with: utilhub extract follow {run_id}")


@extract.command("follow")
@click.argument("run_id", metavar="RUN_ID")
@click.option("--interval", type=click.FloatRange(0.05), default=1.0, show_default=True, help="seconds between looks")
@json_option
@pass_context
def extract_follow(context: Context, run_id: str, interval: float, as_json_: bool) -> None:
    """Follow DA-01 run RUN_ID with a progress bar (parts written of those planned) until it ends; then its summary."""
    follow_run(InitialExtract(context.deployment), run_id, as_json_, interval)


def follow_run(runs: InitialExtract, run_id: str, as_json_: bool, interval: float = 1.0) -> None:
    bar = Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("parts"),
        TimeElapsedColumn(),
        console=progress_console(),
        transient=as_json_,
    )
    with refusals(), bar:
        task = bar.add_task(f"DA-01 {run_id}", total=None)
        while True:
            state = runs.progress(run_id)
            bar.update(task, total=state.parts, completed=state.written)
            if not state.running:
                break
            time.sleep(interval)
    if as_json_:
        emit_json(state.as_dict())
    else:
        out = console()
        out.print(Text.assemble(f"DA-01 {run_id}: ", styled(state.status)))
        if state.error:
            out.print(Text(state.error, style="red"))
        if state.output:
            table = Table(title="summary", title_justify="left")
            table.add_column("count")
            table.add_column("value", justify="right")
            for name in ("parts", "personsRead", "personsIneligible", "contacts", "meteredServicePoints", "meteredServices"):
                table.add_row(name, str(state.output.get(name, "")))
            out.print(table)
            for key, file in state.output.get("files", {}).items():
                out.print(f"  {key}  {file.get('records')} records, {file.get('bytes')} bytes")
    if state.status != "SUCCEEDED":
        raise SystemExit(1)


def main() -> None:
    cli(prog_name="utilhub")
