"""`up --local` runs the pipeline once right away, so the first outputs exist within seconds.

It is a plain synchronous `lambda.invoke` (what `dataops invoke` does), answered by the
emulator running the deployed zip. A scheduled run already going (reserved concurrency
1) makes the invoke a throttle; then it waits for that run and tries again.
"""

from __future__ import annotations

import json
import time
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from rich.console import Console

from dataops_cli.aws import error_code, explain
from dataops_cli.resources.base import StackContext

RETRY_INTERVAL = 0.25


def invoke_once(ctx: StackContext, console: Console, trigger: str = "up") -> tuple[bool, dict[str, Any]]:
    """(succeeded, payload) of one synchronous run; waits out throttles up to the function's timeout."""
    lam = ctx.client("lambda")
    name = ctx.config.function.name
    deadline = time.monotonic() + ctx.config.function.timeout_seconds + 10
    told = False
    while True:
        try:
            response = lam.invoke(
                FunctionName=name,
                InvocationType="RequestResponse",
                Payload=json.dumps({"trigger": trigger}).encode(),
            )
            break
        except ClientError as exc:
            if error_code(exc) != "TooManyRequestsException" or time.monotonic() > deadline:
                raise explain(exc, f"running {name}") from exc
            if not told:
                console.print("[dim]A scheduled run is going (reserved concurrency 1): waiting for it to finish.[/]")
                told = True
            time.sleep(RETRY_INTERVAL)
        except BotoCoreError as exc:
            raise explain(exc, f"running {name}") from exc
    payload = json.loads(response["Payload"].read() or b"null")
    return "FunctionError" not in response, payload if isinstance(payload, dict) else {"result": payload}


def describe_run(payload: dict[str, Any], bucket: str) -> list[str]:
    """The run's result as a few lines: id, shape, missing values handled, outputs."""
    handled = payload.get("missing_values_handled") or {}
    missing = ", ".join(f"{column} {count}" for column, count in handled.items()) or "none"
    lines = [
        f"Run [bold]{payload.get('run_id', '?')}[/] succeeded in {payload.get('duration_ms', 0):.0f} ms: "
        f"{payload.get('rows', '?')} rows x {payload.get('columns', '?')} columns",
        f"Missing values handled: {payload.get('missing_total', 0)} cells ({missing})",
        "Outputs:",
    ]
    lines.extend(f"  s3://{bucket}/{key}" for key in (payload.get("outputs") or {}).values())
    return lines


def run_after_up(ctx: StackContext, console: Console) -> bool:
    """Run the pipeline once and print the result; False (after saying why) when the run failed."""
    console.print(f"\nRunning {ctx.config.function.name} once now, as `invoke` would ...")
    ok, payload = invoke_once(ctx, console)
    if ok:
        for line in describe_run(payload, ctx.config.bucket.name):
            console.print(line, highlight=False)
        return True
    console.print(
        f"[bold red]The first run failed:[/] {payload.get('errorType', 'Error')}: {payload.get('errorMessage', '')}",
        highlight=False,
    )
    console.print(
        f"[yellow]hint:[/] its log is in the emulator's log group {ctx.config.log_group}; "
        "the stack itself is deployed and the schedule keeps running"
    )
    return False
