"""The Lambda function: code, configuration, tags, reserved concurrency, async invoke config.

Each part is compared on its own, so changing the memory makes one
UpdateFunctionConfiguration call and an unchanged handler makes no UpdateFunctionCode.
"""

from __future__ import annotations

import time
from typing import Any

from botocore.exceptions import ClientError

from dataops_cli.aws import DataopsError, error_code, read_or_none
from dataops_cli.deploy.packaging import HANDLER_ENTRY
from dataops_cli.deploy.resources.base import (
    Action,
    Change,
    Resource,
    Step,
    differences,
    missing_tags,
)

DESCRIPTION = "dataops pipeline: impute, normalize and correlate the input CSV; outputs under the output prefix"
WAIT_SECONDS = 300  # creating/updating a function takes seconds; past 5 minutes something is wrong
WAIT_INTERVAL = 2
BROKEN_STATES = ("Failed", "Inactive")
# The waits of a plan (wait steps; see Function.wait_until): after a create, after an update,
# and before updating, for an update an interrupted `up` left going (which may have failed).
ACTIVE, UPDATED, PREVIOUS_UPDATE = "function_active", "function_updated", "previous_update_finished"
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
    engines = ("lambda",)
    role_user = "Lambda"
    role_not_ready = staticmethod(role_not_ready)

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
        if found is None:
            f = self.config.function
            return self.change(
                Action.CREATE, f"{f.runtime}, {f.memory_mb} MB, layer {self.ctx.layer_arn}", steps=self._creation()
            )
        tags = found.get("Tags", {})
        if not self.ctx.owned(tags):
            return self.ctx.not_ours(self.kind, self.name, tags)
        current = found["Configuration"]
        details: list[str] = []
        self.problem = broken_state(current)
        if current.get("State") == "Failed":  # nothing to wait for: a failed create is repaired by creating again
            return self._recreate()
        if self.problem:  # Inactive, or a failed update: send code and configuration again
            details.append(f"{self.problem}; repairing it")
        steps = self._code_and_configuration(current, details)
        tags_missing = bool(missing_tags(tags, self.ctx.tags))
        if tags_missing:
            steps.append(
                self.step(
                    "lambda", "tag_resource", "tag the function", Resource=self.ctx.function_arn, Tags=self.ctx.tags
                )
            )
        reserved = found.get("Concurrency", {}).get("ReservedConcurrentExecutions")
        if reserved != self.config.function.reserved_concurrency:
            steps.append(self._concurrency())
            details.append(f"reserved concurrency: {reserved} -> {self.config.function.reserved_concurrency}")
        invoke_config = read_or_none(lam.get_function_event_invoke_config, FunctionName=self.name) or {}
        if changed := differences(invoke_config, self.desired_async()):
            steps.append(self._async())
            details.extend(changed)
        if tags_missing:
            details.append("tags")
        return self.change(Action.UPDATE if steps else Action.UNCHANGED, *details, steps=steps)

    def _recreate(self) -> Change:
        recreate = [
            Step(
                "lambda",
                "delete_function",
                {"FunctionName": self.name},
                f"deleting the failed function ({self.problem}) to create it again",
                note=True,
            ),
            *self._creation(),
        ]
        return self.change(Action.UPDATE, f"{self.problem}; re-creating it", steps=recreate)

    def _code_and_configuration(self, current: dict[str, Any], details: list[str]) -> list[Step]:
        """New code, changed settings, or a broken state to repair: each update waits for the one before."""
        steps: list[Step] = []
        new_code = current.get("CodeSha256") != self.ctx.package.sha256 or current.get("Architectures", ["x86_64"]) != [
            self.config.function.architecture
        ]
        code_changed = new_code or bool(self.problem)
        observed = {
            **{k: current.get(k) for k in ("Runtime", "Handler", "MemorySize", "Timeout", "Role", "Description")},
            "Environment": current.get("Environment", {}).get("Variables", {}),
            "Layers": [layer["Arn"] for layer in current.get("Layers", [])],
        }
        configuration_changed = differences(observed, self.desired_configuration())
        if code_changed or configuration_changed or self.problem:
            steps.append(self._wait(PREVIOUS_UPDATE))  # an update an interrupted `up` left going would conflict
        if code_changed:
            if new_code:
                details.append("code changed")
            steps.append(
                self.step(
                    "lambda",
                    "update_function_code",
                    "upload the new code",
                    FunctionName=self.name,
                    ZipFile=self.ctx.package.data,
                    Architectures=[self.config.function.architecture],
                )
            )
            steps.append(self._wait(UPDATED))
        if configuration_changed or self.problem:
            details.extend(configuration_changed)
            steps.append(
                Step(
                    "lambda",
                    "update_function_configuration",
                    {"FunctionName": self.name, **self._settings()},
                    "update the configuration",
                    retry_role=True,
                )
            )
            steps.append(self._wait(UPDATED))
        return steps

    def ownership(self) -> str | None:
        found = read_or_none(self.ctx.client("lambda").get_function, FunctionName=self.name)
        return None if found is None else self.ctx.foreign(found.get("Tags", {}))

    def _creation(self) -> list[Step]:
        f = self.config.function
        create = Step(
            "lambda",
            "create_function",
            {
                "FunctionName": self.name,
                "Code": {"ZipFile": self.ctx.package.data},
                "Architectures": [f.architecture],
                "Tags": self.ctx.tags,
                **self._settings(),
            },
            "create the function",
            retry_role=True,
        )
        return [create, self._wait(ACTIVE), self._concurrency(), self._async()]

    def _settings(self) -> dict[str, Any]:
        """CreateFunction's and UpdateFunctionConfiguration's form of the configuration."""
        settings = self.desired_configuration()
        settings["Environment"] = {"Variables": settings["Environment"]}
        return settings

    def _concurrency(self) -> Step:
        reserved = self.config.function.reserved_concurrency
        return self.step(
            "lambda",
            "put_function_concurrency",
            f"reserve {reserved} concurrent run(s)",
            FunctionName=self.name,
            ReservedConcurrentExecutions=reserved,
        )

    def _async(self) -> Step:
        return self.step(
            "lambda",
            "put_function_event_invoke_config",
            "asynchronous retries and event age",
            FunctionName=self.name,
            **self.desired_async(),
        )

    def _wait(self, until: str) -> Step:
        """A wait step: run_step polls GetFunctionConfiguration (see wait_until) rather than a botocore waiter."""
        what = "Active (State)" if until == ACTIVE else "its update to finish (LastUpdateStatus)"
        return Step(
            "lambda",
            until,
            {"FunctionName": self.name},
            f"waiting up to {WAIT_SECONDS} s for Lambda function {self.name} to be {what}",
            wait=True,
        )

    def run_step(self, step: Step) -> Any:
        if step.wait:
            self.ctx.progress(step.description)
            return self.wait_until(created=step.operation == ACTIVE, fail=step.operation != PREVIOUS_UPDATE)
        return super().run_step(step)

    def wait_until(self, created: bool = False, fail: bool = True) -> None:
        """Poll GetFunctionConfiguration until the function is Active (after a create) or its update ended.

        Bounded (WAIT_SECONDS). A function that ends Failed/Inactive, or an update that ends
        Failed, raises with AWS's own reason and a hint (with `fail`, else it just stops waiting).
        """
        what = "Active (State)" if created else "its update to finish (LastUpdateStatus)"
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
        delete = self.step("lambda", "delete_function", "delete the function", FunctionName=self.name)
        return self.removal(found is not None, (found or {}).get("Tags", {}), steps=[delete])
