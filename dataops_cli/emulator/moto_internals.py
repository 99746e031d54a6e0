"""Every use of moto's private internals, in one place (checked against moto 5.2.5).

Everything else in the emulator talks to moto over HTTP with boto3, like any client.
Some things have no public API, so they are read (or fixed) in moto's in-process state here:
- the exact code zip `up` sent (moto keeps it as `LambdaFunction.code_bytes`, but the
  `Code.Location` URL it returns is not served), with the function's configuration;
  likewise a Glue job's definition for the account that asked (GetJob over HTTP would
  answer for the emulator's own credentials' account);
- which account a request belongs to (moto derives it from the access key);
- a role's trust and identity policies (inline and attached), which the emulator evaluates
  when a service assumes the role and when the role's session calls a service;
- which instances behind `/moto-api/data.json` still exist: moto tracks every model
  instance ever created (`instances_tracked` is append-only), deleted ones included, so
  the emulator drops the ones no backend can reach any more before serving that page;
- that same page reads every attribute of every instance, and a Lambda function's
  `docker_client` connects to Docker on first read: with no Docker engine the page fails
  (HTTP 500) while any function exists. The emulator never uses Docker, so that failure
  is made to count as "attribute unavailable", which the page already skips;
- moto keeps a deleted resource's tags (in the backend's TaggingService, keyed by ARN)
  for buckets, log groups, schedule groups, alarms and Glue jobs: a resource created
  again under the same name comes back tagged, so a stranger's bucket looked like ours
  and `up`/`down` adopted and emptied it. AWS forgets the tags with the resource, so the
  emulator wraps those deletes to drop them (functions, roles, topics and rules already
  keep their tags on the deleted object or drop them; dashboards cannot be tagged in moto).
If a moto upgrade moves any of these, the error names this module.
"""

from __future__ import annotations

import gc
import os
import re
import types
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import unquote

from dataops_cli.aws import DataopsError
from dataops_cli.emulator.glue_runner import JobSpec
from dataops_cli.emulator.roles import RoleDocuments
from dataops_cli.emulator.runner import FunctionSpec

DEFAULT_ACCOUNT = "123456789012"
_ACCESS_KEY_RE = re.compile(r"Credential=([^/]+)/")
_REGION_RE = re.compile(r"Credential=[^/]+/\d{8}/([^/]+)/")


def _moto_changed(what: str, exc: BaseException) -> DataopsError:
    return DataopsError(
        f"the installed moto no longer exposes {what} ({type(exc).__name__}: {exc})",
        "dataops_cli/emulator/moto_internals.py was written for moto 5.2.x: pin moto<5.3 or update that module",
    )


def request_account(headers: Mapping[str, str]) -> str:
    """The account moto would use for this request (env, header, then access key)."""
    if os.environ.get("MOTO_ACCOUNT_ID"):
        return os.environ["MOTO_ACCOUNT_ID"]
    for key, value in headers.items():
        if key.lower() == "x-moto-account-id":
            return value
    auth = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
    match = _ACCESS_KEY_RE.search(auth)
    if not match:
        return DEFAULT_ACCOUNT
    from moto.iam.models import get_account_id_from

    return get_account_id_from(match.group(1))


def request_region(headers: Mapping[str, str], default: str) -> str:
    """The region from the SigV4 credential scope (what botocore signs with)."""
    auth = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
    match = _REGION_RE.search(auth)
    return match.group(1) if match else default


def role_documents(role_arn: str) -> RoleDocuments | None:
    """The role's trust policy and every identity policy it has (inline, then attached managed
    ones at their default version); None if the ARN names no role."""
    from moto.iam.models import iam_backends

    parts = role_arn.split(":")
    if len(parts) != 6 or parts[2] != "iam" or not parts[5].startswith("role/"):
        return None
    partition, account = parts[1], parts[4]
    try:
        if account not in iam_backends:
            return None
        backend = iam_backends[account][partition]
        role = next((r for r in backend.roles.values() if r.arn == role_arn), None)
        if role is None:
            return None
        policies: list[str] = list(role.policies.values())
        for managed in role.managed_policies.values():
            version = next(v for v in managed.versions if v.version_id == managed.default_version_id)
            policies.append(version.document)
        return RoleDocuments(arn=role.arn, trust=role.assume_role_policy_document, policies=tuple(policies))
    except (AttributeError, KeyError, StopIteration, TypeError) as exc:
        raise _moto_changed("a role's trust and identity policies", exc) from exc


def function_spec(account: str, region: str, name_or_arn: str) -> FunctionSpec | None:
    """The function's stored zip and configuration; None if it does not exist or is a container image."""
    from moto.awslambda.exceptions import UnknownFunctionException
    from moto.awslambda.models import lambda_backends

    try:
        fn = lambda_backends[account][region].get_function(unquote(name_or_arn))
    except UnknownFunctionException:
        return None
    if getattr(fn, "package_type", "Zip") != "Zip":
        return None  # container images: left to moto, which needs Docker for them
    try:
        invoke_config = fn.event_invoke_config[0].config if fn.event_invoke_config else {}
        reserved = fn.reserved_concurrency
        return FunctionSpec(
            account=account,
            region=region,
            name=fn.function_name,
            arn=fn.function_arn,
            handler=fn.handler,
            runtime=fn.run_time,
            timeout=int(fn.timeout),
            memory_mb=int(fn.memory_size),
            environment=dict(fn.environment_vars or {}),
            code=fn.code_bytes,
            code_sha256=fn.code_sha_256,
            reserved_concurrency=None if reserved is None else int(reserved),
            max_event_age=invoke_config.get("MaximumEventAgeInSeconds"),
            max_retry_attempts=invoke_config.get("MaximumRetryAttempts"),
            layers=tuple(layer["Arn"] for layer in fn.layers),
            role_arn=str(fn.role or ""),
        )
    except (AttributeError, KeyError, IndexError, TypeError) as exc:
        raise _moto_changed("a Lambda function's stored code and configuration", exc) from exc


def glue_job_spec(account: str, region: str, name: str) -> JobSpec | None:
    """The Glue job's definition as the runner needs it; None if it does not exist."""
    from moto.glue.exceptions import EntityNotFoundException
    from moto.glue.models import glue_backends

    try:
        job = glue_backends[account][region].get_job(name)
    except EntityNotFoundException:
        return None
    try:
        command = job.command or {}
        return JobSpec(
            account=account,
            region=region,
            name=job.name,
            created=job.created_on.timestamp(),
            script_location=command.get("ScriptLocation", ""),
            command=command.get("Name", ""),
            default_arguments=dict(job.default_arguments or {}),
            non_overridable_arguments=dict(job.non_overridable_arguments or {}),
            max_concurrent_runs=int((job.execution_property or {}).get("MaxConcurrentRuns", 1)),
            timeout_minutes=int(job.timeout or 2880),
            glue_version=job.glue_version or "",
            worker_type=job.worker_type or "",
            number_of_workers=int(job.number_of_workers or 0),
            role_arn=str(job.role or ""),
        )
    except (AttributeError, TypeError, ValueError) as exc:
        raise _moto_changed("a Glue job's stored definition", exc) from exc


def event_pattern_matches(pattern: str, event: dict[str, Any]) -> bool:
    """Whether an EventBridge rule's EventPattern matches the event, by moto's own matcher
    (the one its PutEvents uses): content filters included, no second implementation here."""
    from moto.events.models import EventPattern

    try:
        return bool(EventPattern.load(pattern).matches_event(event))
    except AttributeError as exc:
        raise _moto_changed("EventPattern.load / matches_event", exc) from exc


def scheduler_regions(account: str = DEFAULT_ACCOUNT) -> list[str]:
    """Regions where moto's Scheduler backend has been used (it is created on first use)."""
    from moto.scheduler.models import scheduler_backends

    try:
        return sorted(scheduler_backends[account].keys()) if account in scheduler_backends else []
    except (AttributeError, TypeError) as exc:
        raise _moto_changed("its Scheduler backends by region", exc) from exc


def tolerate_missing_docker() -> None:
    """Make a failed Docker connection read as a missing attribute, so data.json skips it."""
    import docker.errors
    from moto.utilities.docker_utilities import DockerModel

    class DockerUnavailableError(docker.errors.DockerException, AttributeError):
        """No Docker engine: still a DockerException for moto's invoke path, an AttributeError for data.json."""

    try:
        original = DockerModel.docker_client.fget
    except AttributeError as exc:
        raise _moto_changed("DockerModel.docker_client", exc) from exc
    if getattr(original, "dataops_tolerant", False):
        return

    def docker_client(self: Any) -> Any:
        try:
            return original(self)
        except docker.errors.DockerException as exc:
            raise DockerUnavailableError(str(exc)) from exc

    docker_client.dataops_tolerant = True  # type: ignore[attr-defined]
    DockerModel.docker_client = property(docker_client)  # type: ignore[method-assign]


def _tagged_deletes() -> list[tuple[type, str, Callable[[Any], set[str]]]]:
    """(backend class, delete method, the ARNs of what that backend holds now) for each resource
    kind of the stack whose tags moto keeps after deleting it."""
    from moto.cloudwatch.models import CloudWatchBackend
    from moto.glue.models import GlueBackend
    from moto.logs.models import LogsBackend
    from moto.s3.models import S3Backend
    from moto.scheduler.models import EventBridgeSchedulerBackend

    return [
        (S3Backend, "delete_bucket", lambda backend: {bucket.arn for bucket in backend.buckets.values()}),
        (LogsBackend, "delete_log_group", lambda backend: {group.arn for group in backend.groups.values()}),
        (
            EventBridgeSchedulerBackend,
            "delete_schedule_group",
            lambda backend: {group.arn for group in backend.schedule_groups.values()},
        ),
        (CloudWatchBackend, "delete_alarms", lambda backend: {alarm.alarm_arn for alarm in backend.alarms.values()}),
        (GlueBackend, "delete_job", lambda backend: {job.arn for job in backend.jobs.values()}),
    ]


def forget_tags_on_delete() -> None:
    """Make each delete that moto leaves tags behind for drop the tags of what it deleted (idempotent)."""
    try:
        wrapped = _tagged_deletes()
    except ImportError as exc:
        raise _moto_changed("the backends whose deletes keep tags", exc) from exc
    for cls, method, live_arns in wrapped:
        original = getattr(cls, method, None)
        if original is None:
            raise _moto_changed(f"{cls.__name__}.{method}", AttributeError(method))
        if getattr(original, "dataops_forgets_tags", False):
            continue
        setattr(cls, method, _forgetting_tags(original, live_arns))


def _forgetting_tags(original: Callable[..., Any], live_arns: Callable[[Any], set[str]]) -> Callable[..., Any]:
    def delete(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            before = live_arns(self)
        except AttributeError as exc:
            raise _moto_changed(f"the resources of {type(self).__name__}", exc) from exc
        try:
            return original(self, *args, **kwargs)
        finally:  # whatever the call removed (all of it, or part before an error) loses its tags
            for arn in before - live_arns(self):
                self.tagger.delete_all_tags_for_resource(arn)

    delete.dataops_forgets_tags = True  # type: ignore[attr-defined]
    delete.__name__ = original.__name__
    delete.__doc__ = original.__doc__
    return delete


_UNTRAVERSED = (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType, types.CodeType)


def forget_deleted_instances() -> int:
    """Drop tracked model instances no backend can reach (deleted ones); returns how many."""
    from moto.core.base_backend import BackendDict
    from moto.core.model_instances import model_data

    try:
        models = [model for per_service in model_data.values() for model in per_service.values()]
        tracking_lists = {id(model.instances_tracked) for model in models}
        roots: list[Any] = list(BackendDict._instances)
    except AttributeError as exc:
        raise _moto_changed("its model tracking (model_data / BackendDict._instances)", exc) from exc
    reachable: set[int] = set()
    stack = roots
    while stack:
        obj = stack.pop()
        key = id(obj)
        if key in reachable or key in tracking_lists or isinstance(obj, _UNTRAVERSED):
            continue
        reachable.add(key)
        stack.extend(gc.get_referents(obj))
    dropped = 0
    for model in models:
        live = [instance for instance in model.instances_tracked if id(instance) in reachable]
        dropped += len(model.instances_tracked) - len(live)
        model.instances_tracked[:] = live
    return dropped


def moto_wsgi_app() -> Any:
    """moto's own server application (the one `moto_server` runs)."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    return DomainDispatcherApplication(create_backend_app)


def moto_request_handler() -> Any:
    from moto.moto_server.werkzeug_app import MotoRequestHandler

    return MotoRequestHandler
