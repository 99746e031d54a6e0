"""Every effective setting and every name derived from them: `dataops config`'s data (plain rows, a dict)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from dataops_cli.config import Config

CONFIG_SECTIONS = ("stack", "bucket", "function", "glue", "schedule", "dashboard", "alarm", "pipeline", "quality")


def config_rows(config: Config, engine_rows: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """(what, value) lines in `dataops config`'s order; `engine_rows` are the engine's own (function or Glue job)."""
    schedule, function, alarm, pipeline = config.schedule, config.function, config.alarm, config.pipeline
    return [
        ("stack", f"{config.stack.name} in {config.region}"),
        ("bucket", f"s3://{config.bucket.name}/ input {config.bucket.input_key} <- {config.input_path}"),
        (
            "outputs",
            f"s3://{config.bucket.name}/{config.bucket.output_prefix} "
            f"(runs expire after {config.bucket.run_retention_days} days)",
        ),
        ("engine", function.engine),
        *engine_rows,
        (
            "schedule",
            f"{config.schedule_group}/{config.schedule_name}: {schedule.expression} {schedule.timezone}, "
            + ("enabled" if schedule.enabled else "DISABLED")
            + f", retries {schedule.retry_attempts}, max event age {schedule.max_event_age_seconds} s, "
            + (
                f"flexible window {schedule.flexible_window_minutes} min"
                if schedule.flexible_window_minutes
                else "flexible window off"
            ),
        ),
        ("scheduler role", config.scheduler_role),
        ("dashboard", config.dashboard.name),
        (
            "alarm",
            f"{config.alarm_name} -> "
            + (f"email {alarm.email} via SNS topic {config.alarm_topic}" if alarm.email else "no email (alarm.email)")
            if alarm.enabled
            else "disabled",
        ),
        ("zero as missing", ", ".join(pipeline.zero_as_missing) or "(none)"),
        ("impute", pipeline.impute_strategy),
        ("normalize", f"{pipeline.normalize_method}, except {', '.join(pipeline.normalize_exclude) or '(none)'}"),
        (
            "data quality",
            f"{config.quality.history_runs} runs of history in {config.quality_history_key}; "
            f"on failure {config.quality.on_failure}"
            + (f"; alarm {config.quality_alarm_name}" if config.alarm.enabled else ""),
        ),
        ("tags", ", ".join(f"{k}={v}" for k, v in config.all_tags.items())),
    ]


def effective_config(config: Config, path: Any) -> dict[str, Any]:
    """Every setting (sections as in config.toml) and every name derived from them."""
    settings = {
        name: {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(getattr(config, name)).items()}
        for name in CONFIG_SECTIONS
    }
    return {
        "config_file": str(path) if path else None,
        "settings": {**settings, "tags": dict(config.tags)},
        "derived": {
            "input_path": str(config.input_path),
            "log_group": config.log_group,
            "execution_role": config.execution_role,
            "scheduler_role": config.scheduler_role,
            "glue_job": config.glue_job,
            "glue_role": config.glue_role,
            "glue_failed_rule": config.glue_failed_rule,
            "glue_succeeded_rule": config.glue_succeeded_rule,
            "glue_script_key": config.glue_script_key,
            "glue_modules_key": config.glue_modules_key,
            "schedule_group": config.schedule_group,
            "schedule_name": config.schedule_name,
            "alarm_name": config.alarm_name,
            "alarm_topic": config.alarm_topic,
            "quality_alarm_name": config.quality_alarm_name,
            "quality_history_key": config.quality_history_key,
            "runs_prefix": config.runs_prefix,
            "latest_key": config.latest_key,
            "tags": config.all_tags,
            "function_environment": config.handler_environment(),
        },
    }
