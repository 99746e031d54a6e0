"""The Lambda function: code, configuration, tags, reserved concurrency, async invoke config.

Each part is compared on its own, so changing the memory makes one
UpdateFunctionConfiguration call and an unchanged handler makes no UpdateFunctionCode.
"""

from __future__ import annotations

import time
from typing import Any

from botocore.exceptions import ClientError

from dataops_cli.aws import DataopsError, error_code
from dataops_cli.packaging import HANDLER_ENTRY
from dataops_cli.resources.base import (
    Action,
    Change,
    Resource,
    differences,
    missing_tags,
    retry_while_role_propagates,
)
from dataops_cli.resources.bucket import read_or_none

DESCRIPTION = "dataops pipeline: impute, normalize and correlate the input CSV; outputs under the output prefix"
WAIT_SECONDS = 300  # creating/updating a function takes seconds; past 5 minutes something is wrong
WAIT_INTERVAL = 2
BROKEN_STATES = ("Failed", "Inactive")
# What to do about Lambda's StateReasonCode / LastUpdateStatusReasonCode (botocore's enum).
STATE_HINTS = {
    "InsufficientRolePermissions": "the execution role cannot be assumed by Lambda or lacks permissions: "
    "run `dataops up` again (a new role takes seconds to propagate)",
    "InvalidConfiguration": "the function's configuration is invalid (often the layer): check function.layer_arn, "
    "function.runtime and function.architecture",
    "InvalidZipFileException": "the code package is not a valid zip: run `dataops up` again to re-upload it",
    "InvalidRuntime": "the runtime is not available in this region/partition: check function.runtime",
    "InternalError": "Lambda had an internal error: run `dataops up` again (it re-creates a failed function)",
    "FunctionError.InitTimeout": "initialisation timed out: the layer may be too big or the memory too small",
    "FunctionError.RuntimeInitError": "the runtime could not start: check the layer matches function.runtime",
}
LAYER_HINT = (
    "the layer was not found or this account may not use it: check function.layer_arn "
    "(region, account and version must match the function's region and architecture)"
)
NO_DOCKER_HINT = (
    "this backend cannot run functions here (LocalStack without Docker ends every function Failed): "
    "deploy to AWS, use `dataops --local`, or give the backend a Docker engine"
)


def state_hint(code: str, reason: str) -> str:
    lowered = reason.lower()
    if "layer" in lowered:
        return LAYER_HINT
    if "docker" in lowered or "error while creating lambda" in lowered:
        return NO_DOCKER_HINT
    return STATE_HINTS.get(code, "run `dataops up` again: it re-creates a function that failed")


def broken_state(configuration: dict[str, Any]) -> str | None:
    """'state Failed: <code>: <reason>' when the function cannot run as it is, else None."""
    state = configuration.get("State")
    if state in BROKEN_STATES:
        return f"state {state}: {configuration.get('StateReasonCode', '?')}: {configuration.get('StateReason', '')}"
    if configuration.get("LastUpdateStatus") == "Failed":
        code = configuration.get("LastUpdateStatusReasonCode", "?")
        return f"last update Failed: {code}: {configuration.get('LastUpdateStatusReason', '')}"
    return None


def role_not_ready(exc: ClientError) -> bool:
    message = exc.response.get("Error", {}).get("Message", "")
    return error_code(exc) == "InvalidParameterValueException" and "cannot be assumed" in message


class Function(Resource):
    kind = "Lambda function"

    @property
    def name(self) -> str:
        return self.config.function.name

    def desired_configuration(self) -> dict[str, Any]:
        f = self.config.function
        return {
            "Runtime": f.runtime,
            "Handler": HANDLER_ENTRY,
            "MemorySize": f.memory_mb,
            "Timeout": f.timeout_seconds,
            "Role": self.ctx.role_arn(self.config.execution_role),
            "Environment": self.config.handler_environment(),
            "Layers": [self.ctx.layer_arn],
            "Description": DESCRIPTION,
        }

    def desired_async(self) -> dict[str, int]:
        return {
            "MaximumRetryAttempts": self.config.function.async_max_retry_attempts,
            "MaximumEventAgeInSeconds": self.config.function.async_max_event_age_seconds,
        }

    def plan(self) -> Change:
        lam = self.ctx.client("lambda")
        found = read_or_none(lam.get_function, FunctionName=self.name)
        self._todo: list[str] = []
        if found is None:
            self._todo = ["create", "concurrency", "async"]
            f = self.config.function
            return self.change(Action.CREATE, f"{f.runtime}, {f.memory_mb} MB, layer {self.ctx.layer_arn}")
        tags = found.get("Tags", {})
        if not self.ctx.owned(tags):
            return self.ctx.not_ours(self.kind, self.name, tags)
        current = found["Configuration"]
        details = []
        self.problem = broken_state(current)
        if current.get("State") == "Failed":  # nothing to wait for: a failed create is repaired by creating again
            self._todo = ["recreate", "create", "concurrency", "async"]
            return self.change(Action.UPDATE, f"{self.problem}; re-creating it")
        if self.problem:  # Inactive, or a failed update: send code and configuration again
            self._todo = ["code", "configuration"]
            details.append(f"{self.problem}; repairing it")
        if current.get("CodeSha256") != self.ctx.package.sha256 or current.get("Architectures", ["x86_64"]) != [
            self.config.function.architecture
        ]:
            self._todo.append("code")
            details.append("code changed")
        observed = {
            **{k: current.get(k) for k in ("Runtime", "Handler", "MemorySize", "Timeout", "Role", "Description")},
            "Environment": current.get("Environment", {}).get("Variables", {}),
            "Layers": [layer["Arn"] for layer in current.get("Layers", [])],
        }
        if changed := differences(observed, self.desired_configuration()):
            self._todo.append("configuration")
            details.extend(changed)
        self._todo = list(dict.fromkeys(self._todo))
        reserved = found.get("Concurrency", {}).get("ReservedConcurrentExecutions")
        if reserved != self.config.function.reserved_concurrency:
            self._todo.append("concurrency")
            details.append(f"reserved concurrency: {reserved} -> {self.config.function.reserved_concurrency}")
        invoke_config = read_or_none(lam.get_function_event_invoke_config, FunctionName=self.name) or {}
        if changed := differences(invoke_config, self.desired_async()):
            self._todo.append("async")
            details.extend(changed)
        if missing_tags(tags, self.ctx.tags):
            self._todo.append("tags")
            details.append("tags")
        return self.change(Action.UPDATE if self._todo else Action.UNCHANGED, *details)

    def apply(self, change: Change) -> None:
        lam = self.ctx.client("lambda")
        settings = self.desired_configuration()
        settings["Environment"] = {"Variables": settings["Environment"]}
        if "recreate" in self._todo:
            self.ctx.progress(f"deleting the failed function ({self.problem}) to create it again")
            lam.delete_function(FunctionName=self.name)
        if "create" in self._todo:
            self._with_role_retry(
                lam.create_function,
                FunctionName=self.name,
                Code={"ZipFile": self.ctx.package.data},
                Architectures=[self.config.function.architecture],
                Tags=self.ctx.tags,
                **settings,
            )
            self.wait_until("Active", created=True)
        elif {"code", "configuration"} & set(self._todo):
            self.wait_until("updated", fail=False)  # an update an interrupted `up` left going would conflict
        if "code" in self._todo:
            lam.update_function_code(
                FunctionName=self.name, ZipFile=self.ctx.package.data, Architectures=[self.config.function.architecture]
            )
            self.wait_until("updated")
        if "configuration" in self._todo:
            self._with_role_retry(lam.update_function_configuration, FunctionName=self.name, **settings)
            self.wait_until("updated")
        if "tags" in self._todo:
            lam.tag_resource(Resource=self.ctx.function_arn, Tags=self.ctx.tags)
        if "concurrency" in self._todo:
            lam.put_function_concurrency(
                FunctionName=self.name, ReservedConcurrentExecutions=self.config.function.reserved_concurrency
            )
        if "async" in self._todo:
            lam.put_function_event_invoke_config(FunctionName=self.name, **self.desired_async())

    def _with_role_retry(self, call: Any, **kwargs: Any) -> Any:
        return retry_while_role_propagates(self.ctx, "Lambda", role_not_ready, call, **kwargs)

    def wait_until(self, goal: str, created: bool = False, fail: bool = True) -> None:
        """Poll GetFunctionConfiguration until the function is Active (after a create) or its update ended.

        Bounded (WAIT_SECONDS). A function that ends Failed/Inactive, or an update that ends
        Failed, raises with AWS's own reason and a hint (with `fail`, else it just stops waiting).
        """
        what = "Active (State)" if created else "its update to finish (LastUpdateStatus)"
        self.ctx.progress(f"waiting up to {WAIT_SECONDS} s for Lambda function {self.name} to be {what}")
        lam = self.ctx.client("lambda")
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            current = lam.get_function_configuration(FunctionName=self.name)
            state, update = current.get("State"), current.get("LastUpdateStatus")
            if (created and state == "Active") or (not created and state != "Pending" and update != "InProgress"):
                problem = broken_state(current)
                if problem is None or not fail:
                    return
                self._fail(current, problem)
            if state == "Failed" and fail:
                self._fail(current, broken_state(current) or "state Failed")
            if time.monotonic() > deadline:
                raise DataopsError(
                    f"Lambda function {self.name} was not {what} after {WAIT_SECONDS} s "
                    f"(State={state}, LastUpdateStatus={update})",
                    "look at the function in the Lambda console, then run `dataops up` again",
                )
            time.sleep(WAIT_INTERVAL)

    def _fail(self, current: dict[str, Any], problem: str) -> None:
        failed_update = current.get("State") not in BROKEN_STATES
        code = current.get("LastUpdateStatusReasonCode" if failed_update else "StateReasonCode", "")
        reason = current.get("LastUpdateStatusReason" if failed_update else "StateReason", "")
        raise DataopsError(f"Lambda function {self.name}: {problem}", state_hint(code or "", reason or ""))

    def plan_destroy(self) -> Change:
        found = read_or_none(self.ctx.client("lambda").get_function, FunctionName=self.name)
        return self.removal(found is not None, (found or {}).get("Tags", {}))

    def destroy(self, change: Change) -> None:
        self.ctx.client("lambda").delete_function(FunctionName=self.name)
