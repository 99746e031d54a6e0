"""Planning of the Glue engine's resources by equality of step lists (as tests/unit/test_planning.py).

For each: absent, equal, one field drifted, not ours; and what the schedule and the
scheduler role target when function.engine = "glue".
"""

from __future__ import annotations

import hashlib
import json

from dataops_cli.deploy.packaging import GLUE_ENTRY, build_glue_package, build_package
from dataops_cli.deploy.policies import glue_job_policy, glue_trust_policy, scheduler_glue_policy, wildcards
from dataops_cli.deploy.resources.base import Action, Step, tag_list
from dataops_cli.deploy.resources.glue import JOB_DESCRIPTION, GlueJob, GlueRole, GlueScript
from dataops_cli.deploy.resources.roles import POLICY_NAME, SchedulerRole
from dataops_cli.deploy.resources.schedule import Schedule
from dataops_cli.deploy.stack import all_resources, other_engine_resources, resources
from tests.unit.test_planning import ACCOUNT, BUCKET, OURS, REGION, THEIRS, config, context, refused

GLUE = config(function={"engine": "glue"})
JOB = "dataops-pipeline-glue"
JOB_ARN = f"arn:aws:glue:{REGION}:{ACCOUNT}:job/{JOB}"
SCRIPT_KEY, ZIP_KEY = "dataops/glue/glue_entry.py", "dataops/glue/handler.zip"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- which resources each engine has ----------------------------------------------------------------------------


def test_each_engine_deploys_its_own_and_removes_the_others():
    def kinds(found):
        return [type(r).__name__ for r in found]

    lam = context({})
    assert "Function" in kinds(resources(lam)) and "GlueJob" not in kinds(resources(lam))
    assert kinds(other_engine_resources(lam)) == [
        "GlueSucceededRule",
        "GlueFailedRule",
        "GlueJob",
        "GlueRole",
        "GlueScript",
    ]
    glue = context({}, GLUE)
    assert {"GlueScript", "GlueRole", "GlueJob", "GlueFailedRule", "GlueSucceededRule", "Schedule"} <= set(
        kinds(resources(glue))
    )
    assert kinds(other_engine_resources(glue)) == ["Function", "LogGroup", "ExecutionRole"]
    assert kinds(all_resources(lam)) == kinds(all_resources(glue))


# --- the script objects -----------------------------------------------------------------------------------------


def test_glue_script_absent_equal_drifted():
    entry, package = GLUE_ENTRY.read_bytes(), build_glue_package().data
    uploads = (
        Step(
            "s3",
            "put_object",
            {
                "Bucket": BUCKET,
                "Key": SCRIPT_KEY,
                "Body": entry,
                "ContentType": "text/x-python",
                "Metadata": {"sha256": sha(entry)},
            },
            f"upload {SCRIPT_KEY}",
        ),
        Step(
            "s3",
            "put_object",
            {
                "Bucket": BUCKET,
                "Key": ZIP_KEY,
                "Body": package,
                "ContentType": "application/zip",
                "Metadata": {"sha256": sha(package)},
            },
            f"upload {ZIP_KEY}",
        ),
    )
    ctx = context({}, GLUE)
    absent = GlueScript(ctx).plan()
    assert (absent.action, absent.steps) == (Action.CREATE, uploads)

    stored = {SCRIPT_KEY: sha(entry), ZIP_KEY: sha(package)}
    ctx.aws.answers.update(
        {"s3.head_bucket": {}, "s3.head_object": lambda **call: {"Metadata": {"sha256": stored[call["Key"]]}}}
    )
    assert GlueScript(ctx).plan().action is Action.UNCHANGED
    stored[ZIP_KEY] = "old"
    drifted = GlueScript(ctx).plan()
    assert (drifted.action, drifted.steps) == (Action.UPDATE, uploads[1:])
    assert drifted.details == (f"upload {ZIP_KEY} ({len(package):,} bytes): content differs",)


def test_glue_package_has_the_spark_job_and_the_function_package_does_not():
    assert "handler/spark_job/job.py" in build_glue_package().files
    assert "handler/spark_job/glue_entry.py" in build_glue_package().files
    assert not any("spark_job" in name for name in build_package().files)
    assert build_glue_package().data == build_glue_package().data  # deterministic


def test_glue_script_removal_deletes_both_objects_of_our_bucket_only():
    ctx = context(
        {"s3.head_bucket": {}, "s3.head_object": {"Metadata": {}}, "s3.get_bucket_tagging": {"TagSet": tag_list(OURS)}},
        GLUE,
    )
    removal = GlueScript(ctx).plan_destroy()
    assert removal.steps == tuple(
        Step("s3", "delete_object", {"Bucket": BUCKET, "Key": key}, f"delete {key}") for key in (SCRIPT_KEY, ZIP_KEY)
    )
    ctx.aws.answers["s3.get_bucket_tagging"] = {"TagSet": tag_list(THEIRS)}
    assert refused(GlueScript(ctx).plan_destroy())
    assert GlueScript(context({"s3.head_bucket": {}}, GLUE)).plan_destroy().action is Action.ABSENT


# --- the role ---------------------------------------------------------------------------------------------------


def test_glue_role_is_least_privilege():
    policy = glue_job_policy(
        partition="aws",
        region=REGION,
        account_id=ACCOUNT,
        bucket=BUCKET,
        input_key="in.csv",
        output_prefix="processed/",
        script_prefix="dataops/glue/",
    )
    assert wildcards(policy) == []
    resources_of = {s["Sid"]: s["Resource"] for s in policy["Statement"]}
    assert resources_of["ReadInput"] == f"arn:aws:s3:::{BUCKET}/in.csv"
    assert resources_of["ReadJobScript"] == f"arn:aws:s3:::{BUCKET}/dataops/glue/*"
    assert resources_of["WriteOutputs"] == f"arn:aws:s3:::{BUCKET}/processed/*"
    assert resources_of["ReadQualityHistory"] == f"arn:aws:s3:::{BUCKET}/processed/quality/history.json"
    assert resources_of["CheckPublishedPointer"] == f"arn:aws:s3:::{BUCKET}/processed/latest.json"
    assert resources_of["WriteGlueLogs"][0] == f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws-glue/*"
    trust = glue_trust_policy(ACCOUNT)["Statement"][0]
    assert trust["Principal"] == {"Service": "glue.amazonaws.com"}
    assert trust["Condition"] == {"StringEqualsIfExists": {"aws:SourceAccount": ACCOUNT}}
    assert wildcards(scheduler_glue_policy(JOB_ARN)) == []


def test_glue_role_absent_equal_drifted_not_ours():
    ctx = context({}, GLUE)
    role = GlueRole(ctx)
    created = role.plan()
    assert [s.api_name for s in created.steps] == ["iam:CreateRole", "iam:PutRolePolicy"]
    assert json.loads(created.steps[0].params["AssumeRolePolicyDocument"]) == glue_trust_policy(ACCOUNT)
    assert created.steps[0].params["RoleName"] == "dataops-glue-job"
    assert json.loads(created.steps[1].params["PolicyDocument"]) == role.inline_policy()
    state = {
        "iam.get_role": {"Role": {"AssumeRolePolicyDocument": role.trust_policy(), "Tags": tag_list(OURS)}},
        "iam.get_role_policy": {"PolicyDocument": role.inline_policy()},
    }
    ctx.aws.answers.update(state)
    assert role.plan().steps == ()
    ctx.aws.answers["iam.get_role_policy"] = {"PolicyDocument": {"Version": "2012-10-17", "Statement": []}}
    assert role.plan().details == (f"inline policy {POLICY_NAME}",)
    ctx.aws.answers["iam.get_role"] = {
        "Role": {"AssumeRolePolicyDocument": role.trust_policy(), "Tags": tag_list(THEIRS)}
    }
    assert refused(role.plan())


# --- the job ----------------------------------------------------------------------------------------------------


def expected_definition() -> dict:
    return {
        "Description": JOB_DESCRIPTION,
        "Role": f"arn:aws:iam::{ACCOUNT}:role/dataops-glue-job",
        "ExecutionProperty": {"MaxConcurrentRuns": 1},
        "Command": {"Name": "glueetl", "ScriptLocation": f"s3://{BUCKET}/{SCRIPT_KEY}", "PythonVersion": "3"},
        "DefaultArguments": {
            "--extra-py-files": f"s3://{BUCKET}/{ZIP_KEY}",
            "--BUCKET_NAME": BUCKET,
            "--INPUT_KEY": "diabetes_preprocessed.csv",
            "--OUTPUT_PREFIX": "processed/",
            "--ZERO_AS_MISSING": "Glucose,BloodPressure,SkinThickness,Insulin,BMI",
            "--IMPUTE_STRATEGY": "median",
            "--NORMALIZE_METHOD": "minmax",
            "--NORMALIZE_EXCLUDE": "Outcome",
            "--QUALITY_HISTORY_RUNS": "20",
            "--QUALITY_ON_FAILURE": "warn",
            "--QUALITY_ROW_COUNT_MIN_FACTOR": "0.5",
            "--QUALITY_ROW_COUNT_MAX_FACTOR": "2.0",
            "--QUALITY_MISSING_RATE_MARGIN": "0.1",
            "--QUALITY_MAX_MISSING_RATE": "0.95",
            "--QUALITY_MAX_MEAN_SHIFT": "0.5",
            "--QUALITY_MAX_CORRELATION_CHANGE": "0.3",
            "--MAX_COLUMNS": "1000",
            "--ESCAPE_FORMULAS": "false",
            "--SKIP_UNCHANGED": "true",
        },
        "MaxRetries": 0,
        "Timeout": 30,
        "GlueVersion": "5.0",
        "WorkerType": "G.1X",
        "NumberOfWorkers": 2,
    }


def job_state(tags=OURS, **overrides) -> dict:
    job = {**expected_definition(), "Name": JOB, "MaxCapacity": 2.0, **overrides}
    job["Command"] = {**job["Command"], "Runtime": "ignored: AWS's own field"}
    return {"glue.get_job": {"Job": job}, "glue.get_tags": {"Tags": tags}}


def test_glue_job_absent_equal_drifted_not_ours():
    ctx = context({}, GLUE)
    absent = GlueJob(ctx).plan()
    assert absent.steps == (
        Step("glue", "create_job", {"Name": JOB, **expected_definition(), "Tags": OURS}, "create the job"),
    )
    assert absent.details == ("Glue 5.0, 2 x G.1X",)
    ctx.aws.answers.update(job_state())
    assert GlueJob(ctx).plan().action is Action.UNCHANGED
    ctx.aws.answers.update(job_state(NumberOfWorkers=5))
    drifted = GlueJob(ctx).plan()
    assert drifted.details == ("NumberOfWorkers: 5 -> 2",)
    assert drifted.steps == (
        Step("glue", "update_job", {"JobName": JOB, "JobUpdate": expected_definition()}, "replace the job"),
    )
    ctx.aws.answers.update(job_state(tags={"dataops:stack": "dataops"}))
    assert GlueJob(ctx).plan().steps == (
        Step("glue", "tag_resource", {"ResourceArn": JOB_ARN, "TagsToAdd": {"Project": "dataops"}}, "tag the job"),
    )
    ctx.aws.answers.update(job_state(tags=THEIRS))
    assert refused(GlueJob(ctx).plan())


def test_glue_job_follows_the_config():
    cfg = config(
        function={"engine": "glue"},
        glue={"glue_version": "5.1", "worker_type": "G.2X", "number_of_workers": 4, "timeout_minutes": 90},
        pipeline={"zero_as_missing": [], "normalize_method": "zscore"},
    )
    definition = GlueJob(context({}, cfg)).definition()
    assert (definition["GlueVersion"], definition["WorkerType"], definition["NumberOfWorkers"]) == ("5.1", "G.2X", 4)
    assert definition["Timeout"] == 90
    assert definition["DefaultArguments"]["--ZERO_AS_MISSING"] == "-"  # an empty list (see glue_entry.EMPTY)
    assert definition["DefaultArguments"]["--NORMALIZE_METHOD"] == "zscore"


def test_glue_job_removal():
    ctx = context(job_state(), GLUE)
    assert GlueJob(ctx).plan_destroy().steps == (Step("glue", "delete_job", {"JobName": JOB}, "delete the job"),)
    assert refused(GlueJob(context(job_state(tags=THEIRS), GLUE)).plan_destroy())
    assert GlueJob(context({}, GLUE)).plan_destroy().action is Action.ABSENT


# --- the schedule and its role, by engine -----------------------------------------------------------------------


def test_glue_schedule_targets_start_job_run_through_the_universal_target():
    ctx = context({}, GLUE)
    target = Schedule(ctx).definition()["Target"]
    assert target["Arn"] == "arn:aws:scheduler:::aws-sdk:glue:startJobRun"
    assert json.loads(target["Input"]) == {"JobName": JOB}
    assert target["RoleArn"] == f"arn:aws:iam::{ACCOUNT}:role/dataops-scheduler-invoke"
    assert SchedulerRole(ctx).inline_policy() == {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "StartPipelineJob", "Effect": "Allow", "Action": "glue:StartJobRun", "Resource": JOB_ARN}
        ],
    }
    # the same schedule deployed for the Lambda drifts to the job: one replacing update
    lam = Schedule(context({})).definition()
    ctx.aws.answers["scheduler.get_schedule"] = lam
    switched = Schedule(ctx).plan()
    assert switched.action is Action.UPDATE and [s.operation for s in switched.steps] == ["update_schedule"]
    assert any(d.startswith("Target:") for d in switched.details)


# --- the EventBridge rules the errors alarm and the dashboard count -----------------------------------------------


def test_glue_run_rule_absent_equal_drifted_not_ours_and_removal():
    from dataops_cli.deploy.resources.glue_events import GlueFailedRule, GlueSucceededRule, run_pattern

    name, arn = "dataops-glue-run-failed", f"arn:aws:events:{REGION}:{ACCOUNT}:rule/dataops-glue-run-failed"
    pattern = json.dumps(run_pattern(JOB, ("FAILED", "TIMEOUT")), sort_keys=True)
    definition = {
        "EventPattern": pattern,
        "State": "ENABLED",
        "Description": f"dataops: {GlueFailedRule.purpose}",
    }
    put = Step("events", "put_rule", {"Name": name, **definition, "Tags": tag_list(OURS)}, "write the rule")
    ctx = context({}, GLUE)
    absent = GlueFailedRule(ctx).plan()
    assert (absent.action, absent.steps) == (Action.CREATE, (put,))
    assert GlueSucceededRule(ctx).plan().steps[0].params["Name"] == "dataops-glue-run-succeeded"

    stored = {"Name": name, "Arn": arn, **definition}
    # AWS answers the pattern with its own key order and spacing: compared as JSON, not as text
    stored["EventPattern"] = json.dumps(json.loads(pattern), indent=1)
    ctx.aws.answers.update({"events.describe_rule": stored, "events.list_tags_for_resource": {"Tags": tag_list(OURS)}})
    assert GlueFailedRule(ctx).plan().action is Action.UNCHANGED
    stored["EventPattern"] = json.dumps(run_pattern("another-job", ("FAILED",)))
    drifted = GlueFailedRule(ctx).plan()
    without_tags = Step("events", "put_rule", {"Name": name, **definition}, "write the rule")
    assert (drifted.action, drifted.steps) == (Action.UPDATE, (without_tags,))
    assert drifted.details == ("EventPattern differs",)

    ctx.aws.answers["events.list_targets_by_rule"] = {"Targets": [{"Id": "t1", "Arn": "x"}]}
    removal = GlueFailedRule(ctx).plan_destroy()
    assert removal.steps == (
        Step("events", "remove_targets", {"Rule": name, "Ids": ["t1"]}, "remove its targets"),
        Step("events", "delete_rule", {"Name": name}, "delete the rule"),
    )
    ctx.aws.answers["events.list_tags_for_resource"] = {"Tags": tag_list(THEIRS)}
    assert refused(GlueFailedRule(ctx).plan())
    assert refused(GlueFailedRule(ctx).plan_destroy())
    assert GlueFailedRule(context({}, GLUE)).plan_destroy().action is Action.ABSENT


def test_errors_alarm_watches_the_failed_runs_rule_with_engine_glue():
    from dataops_cli.deploy.resources.monitoring import ErrorsAlarm

    glue = ErrorsAlarm(context({}, GLUE)).definition()
    assert (glue["Namespace"], glue["MetricName"], glue["Dimensions"]) == (
        "AWS/Events",
        "MatchedEvents",
        [{"Name": "RuleName", "Value": "dataops-glue-run-failed"}],
    )
    lam = ErrorsAlarm(context({})).definition()
    assert (lam["Namespace"], lam["MetricName"]) == ("AWS/Lambda", "Errors")
    same = {"Statistic", "Period", "EvaluationPeriods", "Threshold", "ComparisonOperator", "TreatMissingData"}
    assert {k: glue[k] for k in same} == {k: lam[k] for k in same}
    absent = {"cloudwatch.describe_alarms": {"MetricAlarms": []}}
    assert ErrorsAlarm(context(absent, GLUE)).plan().details == ("failed or timed-out Glue runs >= 1 in 2 minutes",)
