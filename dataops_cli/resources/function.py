"""The Lambda function: code, configuration, tags, reserved concurrency, async invoke config.

Each part is compared on its own, so changing the memory makes one
UpdateFunctionConfiguration call and an unchanged handler makes no UpdateFunctionCode.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from dataops_cli.aws import error_code
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
        if "create" in self._todo:
            self._with_role_retry(
                lam.create_function,
                FunctionName=self.name,
                Code={"ZipFile": self.ctx.package.data},
                Architectures=[self.config.function.architecture],
                Tags=self.ctx.tags,
                **settings,
            )
            self._wait("function_active_v2")
        elif {"code", "configuration"} & set(self._todo):
            self._wait("function_updated_v2")  # an update an interrupted `up` left going would conflict
        if "code" in self._todo:
            lam.update_function_code(
                FunctionName=self.name, ZipFile=self.ctx.package.data, Architectures=[self.config.function.architecture]
            )
            self._wait("function_updated_v2")
        if "configuration" in self._todo:
            self._with_role_retry(lam.update_function_configuration, FunctionName=self.name, **settings)
            self._wait("function_updated_v2")
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

    def _wait(self, waiter: str) -> None:
        self.ctx.progress("waiting for the function to become ready")
        self.ctx.client("lambda").get_waiter(waiter).wait(
            FunctionName=self.name, WaiterConfig={"Delay": 2, "MaxAttempts": 150}
        )

    def plan_destroy(self) -> Change:
        found = read_or_none(self.ctx.client("lambda").get_function, FunctionName=self.name)
        return self.removal(found is not None, (found or {}).get("Tags", {}))

    def destroy(self, change: Change) -> None:
        self.ctx.client("lambda").delete_function(FunctionName=self.name)
