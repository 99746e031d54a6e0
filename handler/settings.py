"""The function's environment, parsed once per run: a bad value fails the run naming its variable."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from . import contract as c
from .errors import ConfigurationError
from .options import PipelineOptions
from .quality import (
    QualitySettings,
)


@dataclass(frozen=True)
class Settings:
    bucket: str
    input_key: str
    output_prefix: str
    options: PipelineOptions
    quality: QualitySettings = field(default_factory=QualitySettings)
    skip_unchanged: bool = c.DEFAULT_SKIP_UNCHANGED

    @classmethod
    def from_environ(cls, env: Mapping[str, str]) -> Settings:
        def required(name: str) -> str:
            value = env.get(name, "").strip()
            if not value:
                raise ConfigurationError(f"environment variable {name} is not set", setting=name)
            return value

        prefix = env.get(c.ENV_OUTPUT_PREFIX, c.DEFAULT_OUTPUT_PREFIX).strip()
        if not prefix.endswith("/") or prefix.startswith("/"):
            raise ConfigurationError(
                f"OUTPUT_PREFIX={prefix!r} must end with '/' and not start with '/', e.g. 'processed/'",
                setting="OUTPUT_PREFIX",
            )
        zero = env.get(c.ENV_ZERO_AS_MISSING)
        return cls(
            bucket=required(c.ENV_BUCKET),
            input_key=required(c.ENV_INPUT_KEY),
            output_prefix=prefix,
            options=PipelineOptions(
                zero_as_missing=c.DEFAULT_ZERO_AS_MISSING if zero is None else _split(zero),
                impute_strategy=env.get(c.ENV_IMPUTE_STRATEGY, "").strip() or c.DEFAULT_IMPUTE_STRATEGY,
                normalize_method=env.get(c.ENV_NORMALIZE_METHOD, "").strip() or c.DEFAULT_NORMALIZE_METHOD,
                normalize_exclude=_split(env.get(c.ENV_NORMALIZE_EXCLUDE, ",".join(c.DEFAULT_NORMALIZE_EXCLUDE))),
                max_columns=int_setting(env, c.ENV_MAX_COLUMNS, c.DEFAULT_MAX_COLUMNS),
                escape_formulas=bool_setting(env, c.ENV_ESCAPE_FORMULAS, c.DEFAULT_ESCAPE_FORMULAS),
            ),
            quality=QualitySettings.from_environ(env),
            skip_unchanged=bool_setting(env, c.ENV_SKIP_UNCHANGED, c.DEFAULT_SKIP_UNCHANGED),
        )


def int_setting(env: Mapping[str, str], name: str, default: int) -> int:
    """An integer variable; unset or empty is `default`; anything else must parse, or the run fails naming it."""
    text = env.get(name, "").strip()
    if not text:
        return default
    try:
        return int(text)
    except ValueError:
        raise ConfigurationError(f"{name}={text!r} is not an integer", setting=name) from None


def bool_setting(env: Mapping[str, str], name: str, default: bool) -> bool:
    """A "true"/"false" variable (config.py writes those; any case is accepted); unset or empty is `default`."""
    text = env.get(name, "").strip().lower()
    if not text:
        return default
    if text not in ("true", "false"):
        raise ConfigurationError(f"{name}={text!r} is not 'true' or 'false'", setting=name)
    return text == "true"


def _split(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())
