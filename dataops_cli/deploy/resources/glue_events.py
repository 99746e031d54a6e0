"""EventBridge rules that match the Glue job's finished runs: what the errors alarm and the dashboard count.

Why rules and not Glue's own metrics (engine glue):
- Glue sends "Glue Job State Change" events for SUCCEEDED, FAILED, TIMEOUT and STOPPED to the
  default event bus, free and without any job setting ("Automating AWS Glue with EventBridge",
  https://docs.aws.amazon.com/glue/latest/dg/automating-awsglue-with-cloudwatch-events.html;
  event reference https://docs.aws.amazon.com/eventbridge/latest/ref/events-ref-glue.html).
- EventBridge counts each rule's matches as AWS/Events MatchedEvents (dimension RuleName), a
  free vended metric ("Monitoring Amazon EventBridge",
  https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-monitoring.html). The errors
  alarm is a metric alarm on it, so it behaves like the Lambda one (state in `status`, email
  on ALARM and OK through the same topic, removed by `down`), and it sees TIMEOUT, which a
  metric published from inside the run (glue.error.ALL) cannot report once Glue stops it.
- Glue's job metrics (--enable-metrics) and observability metrics (glue.succeed.ALL /
  glue.error.ALL, --enable-observability-metrics) are custom metrics with a JobRunId
  dimension: at rate(2 minutes) that is tens of thousands of billed metric-hours a month,
  and the job's role would need cloudwatch:PutMetricData on Resource "*" (it has no
  resource-level permission). The rules cost nothing and need no right on the job's role.

The rules have no target: nothing is invoked, so no role or topic policy is needed.
"""

from __future__ import annotations

import json
from typing import Any

from dataops_cli.aws import read_or_none
from dataops_cli.deploy.resources.base import (
    Action,
    Change,
    Resource,
    Step,
    canonical,
    missing_tags,
    tag_dict,
    tag_list,
)

DETAIL_TYPE = "Glue Job State Change"


def run_pattern(job: str, states: tuple[str, ...]) -> dict[str, Any]:
    return {"source": ["aws.glue"], "detail-type": [DETAIL_TYPE], "detail": {"jobName": [job], "state": list(states)}}


class GlueRunRule(Resource):
    """One rule on the default bus matching this job's runs that ended in `states`."""

    kind = "EventBridge rule"
    engines = ("glue",)
    states: tuple[str, ...] = ()
    purpose = ""

    @property
    def name(self) -> str:
        raise NotImplementedError

    @property
    def arn(self) -> str:
        return self.ctx.aws.arn("events", f"rule/{self.name}")

    def definition(self) -> dict[str, Any]:
        return {
            "EventPattern": json.dumps(run_pattern(self.config.glue_job, self.states), sort_keys=True),
            "State": "ENABLED",
            "Description": f"dataops: {self.purpose}",
        }

    def _read(self) -> tuple[dict[str, Any] | None, dict[str, str]]:
        events = self.ctx.client("events")
        rule = read_or_none(events.describe_rule, Name=self.name)
        if rule is None:
            return None, {}
        return rule, tag_dict(events.list_tags_for_resource(ResourceARN=self.arn).get("Tags"))

    def _put(self, with_tags: bool) -> Step:
        tags = {"Tags": tag_list(self.ctx.tags)} if with_tags else {}
        return self.step("events", "put_rule", "write the rule", Name=self.name, **self.definition(), **tags)

    def ownership(self) -> str | None:
        rule, tags = self._read()
        return None if rule is None else self.ctx.foreign(tags)

    def plan(self) -> Change:
        rule, tags = self._read()
        states = "/".join(self.states)
        if rule is None:
            return self.change(Action.CREATE, f"{self.config.glue_job} runs {states}", steps=[self._put(True)])
        if not self.ctx.owned(tags):
            return self.ctx.not_ours(self.kind, self.name, tags)
        desired = self.definition()
        # AWS may answer the pattern with its own key order and spacing: compared as JSON
        seen = {**rule, "EventPattern": canonical(rule.get("EventPattern") or "{}")}
        wanted = {**desired, "EventPattern": canonical(desired["EventPattern"])}
        changed = [f"{key} differs" for key, value in wanted.items() if seen.get(key) != value]
        steps = [self._put(False)] if changed else []  # PutRule on an existing rule leaves its tags alone
        if missing_tags(tags, self.ctx.tags):
            steps.append(
                self.step("events", "tag_resource", "tag the rule", ResourceARN=self.arn, Tags=tag_list(self.ctx.tags))
            )
            changed.append("tags")
        return self.change(Action.UPDATE if steps else Action.UNCHANGED, *changed, steps=steps)

    def plan_destroy(self) -> Change:
        """DeleteRule refuses a rule with targets: any someone added are removed first."""
        rule, tags = self._read()
        steps = []
        if rule is not None:
            targets = self.ctx.client("events").list_targets_by_rule(Rule=self.name).get("Targets", [])
            if targets:
                ids = [t["Id"] for t in targets]
                steps.append(self.step("events", "remove_targets", "remove its targets", Rule=self.name, Ids=ids))
        steps.append(self.step("events", "delete_rule", "delete the rule", Name=self.name))
        return self.removal(rule is not None, tags, steps=steps)


class GlueFailedRule(GlueRunRule):
    states = ("FAILED", "TIMEOUT")
    purpose = "counts failed and timed-out runs of the pipeline's Glue job (the errors alarm watches it)"

    @property
    def name(self) -> str:
        return self.config.glue_failed_rule


class GlueSucceededRule(GlueRunRule):
    states = ("SUCCEEDED",)
    purpose = "counts successful runs of the pipeline's Glue job (the dashboard shows it)"

    @property
    def name(self) -> str:
        return self.config.glue_succeeded_rule
