"""The Lambda function: code, configuration, tags, reserved concurrency, async invoke config.

Each part is compared on its own, so changing the memory makes one
UpdateFunctionConfiguration call and an unchanged handler makes no UpdateFunctionCode.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from dataops_cli.aws import error_code, read_or_none
from dataops_cli.packaging import HANDLER_ENTRY
from dataops_cli.resources.base import (
    Action,
    Change,
    Resource,
    Step,
    differences,
    missing_tags,
)

DESCRIPTION = "dataops pipeline: impute, normalize and correlate the input CSV; outputs under the output prefix"


def role_not_ready(exc: ClientError) -> bool:
    message = exc.response.get("Error", {}).get("Message", "")
    return error_code(exc) == "InvalidParameterValueException" and "cannot be assumed" in message


class Function(Resource):
    kind = "Lambda function"
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
            steps = [
                Step(
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
                ),
                self._wait("function_active_v2"),
                self._concurrency(),
                self._async(),
            ]
            return self.change(Action.CREATE, f"{f.runtime}, {f.memory_mb} MB, layer {self.ctx.layer_arn}", steps=steps)
        tags = found.get("Tags", {})
        if not self.ctx.owned(tags):
            return self.ctx.not_ours(self.kind, self.name, tags)
        current = found["Configuration"]
        details: list[str] = []
        steps: list[Step] = []
        code_changed = current.get("CodeSha256") != self.ctx.package.sha256 or current.get(
            "Architectures", ["x86_64"]
        ) != [self.config.function.architecture]
        observed = {
            **{k: current.get(k) for k in ("Runtime", "Handler", "MemorySize", "Timeout", "Role", "Description")},
            "Environment": current.get("Environment", {}).get("Variables", {}),
            "Layers": [layer["Arn"] for layer in current.get("Layers", [])],
        }
        configuration_changed = differences(observed, self.desired_configuration())
        if code_changed or configuration_changed:
            steps.append(self._wait("function_updated_v2"))  # an update an interrupted `up` left going would conflict
        if code_changed:
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
            steps.append(self._wait("function_updated_v2"))
        if configuration_changed:
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
            steps.append(self._wait("function_updated_v2"))
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

    def _wait(self, waiter: str) -> Step:
        return Step(
            "lambda",
            waiter,
            {"FunctionName": self.name, "WaiterConfig": {"Delay": 2, "MaxAttempts": 150}},
            "waiting for the function to become ready",
            wait=True,
        )

    def plan_destroy(self) -> Change:
        found = read_or_none(self.ctx.client("lambda").get_function, FunctionName=self.name)
        delete = self.step("lambda", "delete_function", "delete the function", FunctionName=self.name)
        return self.removal(found is not None, (found or {}).get("Tags", {}), steps=[delete])
