"""CloudWatch dashboard, the Errors alarm, and the optional SNS topic that emails on it."""

from __future__ import annotations

import json
from typing import Any

from dataops_cli.aws import read_or_none
from dataops_cli.deploy.dashboard import DashboardInputs, build_dashboard, dashboard_json, owner_of
from dataops_cli.deploy.resources.base import (
    Action,
    Change,
    Resource,
    Step,
    differences,
    missing_tags,
    tag_dict,
    tag_list,
)
from dataops_cli.engines.base import traits
from handler import contract


def dashboard_inputs(ctx: Any) -> DashboardInputs:
    c = ctx.config
    return DashboardInputs(
        stack=c.stack.name,
        region=c.region,
        function=c.function.name,
        log_group=c.log_group,
        schedule_group=c.schedule_group,
        bucket=c.bucket.name,
        engine=c.function.engine,
        glue_job=c.glue_job,
        glue_failed_rule=c.glue_failed_rule,
        glue_succeeded_rule=c.glue_succeeded_rule,
    )


def any_in_two_minutes(topic_arn: str | None) -> dict[str, Any]:
    """Both alarms' trigger: a Sum >= 1 over one 2-minute period (the schedule's), quiet when there
    is no data; notify the topic, if there is one, on alarm and on recovery."""
    actions = [topic_arn] if topic_arn else []
    return {
        "Statistic": "Sum",
        "Period": 120,
        "EvaluationPeriods": 1,
        "Threshold": 1.0,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        "TreatMissingData": "notBreaching",
        "ActionsEnabled": True,
        "AlarmActions": actions,
        "OKActions": actions,
    }


class Dashboard(Resource):
    """Dashboards take no tags: the marker widget in the body says which stack owns it."""

    kind = "Dashboard"

    @property
    def name(self) -> str:
        return self.config.dashboard.name

    def _read(self) -> dict[str, Any] | None:
        found = read_or_none(self.ctx.client("cloudwatch").get_dashboard, DashboardName=self.name)
        return json.loads(found["DashboardBody"]) if found else None

    def _foreign(self, body: dict[str, Any]) -> str | None:
        owner = owner_of(body)
        if owner == self.ctx.stack:
            return None
        return f"belongs to stack {owner!r}" if owner else "has no dataops marker widget"

    def _refusal(self, body: dict[str, Any]) -> Change | None:
        found = self._foreign(body)
        return None if found is None else self.change(Action.REFUSED, f"a dashboard with this name exists but {found}")

    def ownership(self) -> str | None:
        body = self._read()
        return None if body is None else self._foreign(body)

    def _put(self) -> Step:
        return self.step(
            "cloudwatch",
            "put_dashboard",
            "write the generated body",
            DashboardName=self.name,
            DashboardBody=dashboard_json(dashboard_inputs(self.ctx)),
        )

    def plan(self) -> Change:
        body = self._read()
        if body is None:
            widgets = len(build_dashboard(dashboard_inputs(self.ctx))["widgets"])
            return self.change(Action.CREATE, f"{widgets} widgets", steps=[self._put()])
        if refusal := self._refusal(body):
            return refusal
        if body == build_dashboard(dashboard_inputs(self.ctx)):
            return self.change(Action.UNCHANGED)
        return self.change(Action.UPDATE, "widgets differ from the generated body", steps=[self._put()])

    def plan_destroy(self) -> Change:
        body = self._read()
        if body is None:
            return self.change(Action.ABSENT)
        delete = self.step("cloudwatch", "delete_dashboards", "delete the dashboard", DashboardNames=[self.name])
        return self._refusal(body) or self.change(Action.DELETE, steps=[delete])


class AlarmTopic(Resource):
    """Exists only while alarm.email is set; the email subscription must be confirmed by its owner."""

    kind = "SNS topic"

    @property
    def name(self) -> str:
        return self.config.alarm_topic

    def _read(self) -> dict[str, str] | None:
        sns = self.ctx.client("sns")
        if read_or_none(sns.get_topic_attributes, TopicArn=self.ctx.topic_arn) is None:
            return None
        return tag_dict(sns.list_tags_for_resource(ResourceArn=self.ctx.topic_arn).get("Tags"))

    def ownership(self) -> str | None:
        tags = self._read()
        return None if tags is None else self.ctx.foreign(tags)

    def _subscribed(self) -> bool:
        sns = self.ctx.client("sns")
        for page in sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=self.ctx.topic_arn):
            if any(
                s["Protocol"] == "email" and s["Endpoint"] == self.config.alarm.email for s in page["Subscriptions"]
            ):
                return True
        return False

    def _delete(self) -> Step:
        return self.step("sns", "delete_topic", "delete the topic", TopicArn=self.ctx.topic_arn)

    def _subscribe(self) -> Step:
        email = self.config.alarm.email
        return self.step(
            "sns", "subscribe", f"email {email}", TopicArn=self.ctx.topic_arn, Protocol="email", Endpoint=email
        )

    def plan(self) -> Change:
        tags = self._read()
        wanted = bool(self.config.alarm.enabled and self.config.alarm.email)
        if tags is None:
            if not wanted:
                return self.change(Action.SKIPPED, "no alarm.email configured")
            create = self.step("sns", "create_topic", "create the topic", Name=self.name, Tags=tag_list(self.ctx.tags))
            return self.change(
                Action.CREATE,
                f"email {self.config.alarm.email} (confirm the subscription email)",
                steps=[create, self._subscribe()],
            )
        if not self.ctx.owned(tags):
            return self.ctx.not_ours(self.kind, self.name, tags)
        if not wanted:
            return self.change(Action.DELETE, "alarm.email removed from config", steps=[self._delete()])
        details, steps = [], []
        retag = bool(missing_tags(tags, self.ctx.tags))
        if retag:
            steps.append(
                self.step(
                    "sns", "tag_resource", "tag the topic", ResourceArn=self.ctx.topic_arn, Tags=tag_list(self.ctx.tags)
                )
            )
        if not self._subscribed():
            steps.append(self._subscribe())
            details.append("subscribe")
        if retag:
            details.append("tags")
        return self.change(Action.UPDATE if steps else Action.UNCHANGED, *details, steps=steps)

    def plan_destroy(self) -> Change:
        tags = self._read()
        if tags is None and not (self.config.alarm.enabled and self.config.alarm.email):
            return self.change(Action.SKIPPED, "none to delete: alarm.email is not set")  # not "already gone"
        return self.removal(tags is not None, tags or {}, steps=[self._delete()])


class ErrorsAlarm(Resource):
    """Lambda's Errors; with engine glue, the failed-runs rule's matches (resources/glue_events.py says why)."""

    kind = "Alarm"

    @property
    def summary(self) -> str:
        if not traits(self.config.function.engine).runs_function:
            return "failed or timed-out Glue runs >= 1 in 2 minutes"
        return "Errors >= 1 in 2 minutes"

    @property
    def name(self) -> str:
        return self.config.alarm_name

    def _watched(self) -> dict[str, Any]:
        if not traits(self.config.function.engine).runs_function:
            return {
                "AlarmDescription": f"dataops: a run of Glue job {self.config.glue_job} failed or timed out "
                "within 2 minutes",
                "Namespace": "AWS/Events",
                "MetricName": "MatchedEvents",
                "Dimensions": [{"Name": "RuleName", "Value": self.config.glue_failed_rule}],
            }
        return {
            "AlarmDescription": f"dataops: {self.config.function.name} reported an error within 2 minutes",
            "Namespace": "AWS/Lambda",
            "MetricName": "Errors",
            "Dimensions": [{"Name": "FunctionName", "Value": self.config.function.name}],
        }

    def definition(self) -> dict[str, Any]:
        return {**self._watched(), **any_in_two_minutes(self.ctx.topic_arn if self.config.alarm.email else None)}

    def _read(self) -> tuple[dict[str, Any] | None, dict[str, str]]:
        cloudwatch = self.ctx.client("cloudwatch")
        alarms = cloudwatch.describe_alarms(AlarmNames=[self.name], AlarmTypes=["MetricAlarm"])["MetricAlarms"]
        if not alarms:
            return None, {}
        tags = cloudwatch.list_tags_for_resource(ResourceARN=alarms[0]["AlarmArn"]).get("Tags")
        return alarms[0], tag_dict(tags)

    def ownership(self) -> str | None:
        if not self.config.alarm.enabled:
            return None  # `up` leaves a same-named alarm alone (SKIPPED) when alarms are off
        alarm, tags = self._read()
        return None if alarm is None else self.ctx.foreign(tags)

    def _delete(self) -> Step:
        return self.step("cloudwatch", "delete_alarms", "delete the alarm", AlarmNames=[self.name])

    def _put(self) -> Step:
        return self.step(
            "cloudwatch",
            "put_metric_alarm",
            "write the alarm",
            AlarmName=self.name,
            Tags=tag_list(self.ctx.tags),
            **self.definition(),
        )

    def plan(self) -> Change:
        """PutMetricAlarm ignores Tags when the alarm exists, hence TagResource for tag changes."""
        if not self.config.alarm.enabled:
            alarm, tags = self._read()
            if alarm is not None and self.ctx.owned(tags):
                return self.change(Action.DELETE, "alarm.enabled = false", steps=[self._delete()])
            return self.change(Action.SKIPPED, "alarm.enabled = false")
        alarm, tags = self._read()
        if alarm is None:
            return self.change(Action.CREATE, self.summary, steps=[self._put()])
        if not self.ctx.owned(tags):
            return self.ctx.not_ours(self.kind, self.name, tags)
        changed = differences(alarm, self.definition())
        steps = [self._put()] if changed else []
        if missing_tags(tags, self.ctx.tags):
            steps.append(
                self.step(
                    "cloudwatch",
                    "tag_resource",
                    "tag the alarm",
                    ResourceARN=self.ctx.aws.arn("cloudwatch", f"alarm:{self.name}"),
                    Tags=tag_list(self.ctx.tags),
                )
            )
            changed.append("tags")
        return self.change(Action.UPDATE if changed else Action.UNCHANGED, *changed, steps=steps)

    def plan_destroy(self) -> Change:
        alarm, tags = self._read()
        return self.removal(alarm is not None, tags, steps=[self._delete()])


class QualityAlarm(ErrorsAlarm):
    """Alarms on a failing data-quality check, which is not a Lambda error (a quarantined run returns normally).

    Same lifecycle as the Errors alarm (alarm.enabled, alarm.email, tags, removed by down).
    """

    @property
    def summary(self) -> str:
        return "QualityFailures >= 1 in 2 minutes"

    @property
    def name(self) -> str:
        return self.config.quality_alarm_name

    def definition(self) -> dict[str, Any]:
        return {
            "AlarmDescription": f"dataops: a data-quality check of {self.config.function.name} failed within 2 minutes",
            "Namespace": contract.METRICS_NAMESPACE,
            "MetricName": contract.M_QUALITY_FAILURES,
            "Dimensions": [{"Name": contract.METRIC_DIMENSION, "Value": self.config.function.name}],
            **any_in_two_minutes(self.ctx.topic_arn if self.config.alarm.email else None),
        }
