"""`engine_for(config)`: the one place an engine is chosen (once per command, from function.engine)."""

from __future__ import annotations

from dataops_cli.config import Config
from dataops_cli.engines.base import Engine
from dataops_cli.engines.glue_engine import GlueEngine
from dataops_cli.engines.lambda_engine import LambdaEngine

ENGINES: dict[str, type[Engine]] = {"lambda": LambdaEngine, "glue": GlueEngine}


def engine_for(config: Config) -> Engine:
    """The engine function.engine names (config validation refused any other)."""
    return ENGINES[config.function.engine](config)
