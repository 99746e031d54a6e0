"""The engine seam: chosen once from the config, each engine naming its own resources, rows and notes."""

from __future__ import annotations

import pytest

from dataops_cli.config import parse_config
from dataops_cli.deploy.stack import RESOURCE_ORDER
from dataops_cli.engines.base import TRAITS, traits
from dataops_cli.engines.glue_engine import GlueEngine
from dataops_cli.engines.lambda_engine import LambdaEngine
from dataops_cli.engines.registry import ENGINES, engine_for


@pytest.mark.parametrize(("name", "cls"), [("lambda", LambdaEngine), ("glue", GlueEngine)])
def test_engine_for_picks_the_configured_engine(name, cls):
    engine = engine_for(parse_config({"function": {"engine": name}}))
    assert type(engine) is cls and engine.name == name and engine.traits is traits(name)


def test_every_configurable_engine_has_an_implementation_and_traits():
    from dataops_cli.config import ENGINES as CONFIGURABLE

    assert set(ENGINES) == set(TRAITS) == set(CONFIGURABLE)
    assert {t.other for t in TRAITS.values()} == set(TRAITS)


@pytest.mark.parametrize("name", ["lambda", "glue"])
def test_each_resource_belongs_to_this_engine_or_the_other_never_both(name):
    engine = engine_for(parse_config({"function": {"engine": name}}))
    mine, other = engine.resources(RESOURCE_ORDER), engine.other_resources(RESOURCE_ORDER)
    assert not set(mine) & set(other) and set(mine) | set(other) == set(RESOURCE_ORDER)
    assert [c for c in RESOURCE_ORDER if c in mine] == mine  # `up` order kept
    kinds = {cls.__name__ for cls in mine}
    assert ("Function" in kinds) is engine.traits.runs_function
    assert ("GlueJob" in kinds) is not engine.traits.runs_function


def test_the_engines_say_what_runs_and_what_local_mode_does_not_emulate():
    lam = engine_for(parse_config({}))
    glue = engine_for(parse_config({"function": {"engine": "glue"}, "glue": {"number_of_workers": 3}}))
    assert lam.runs == "DataOpsPipelineFunction" and glue.runs == "Glue job dataops-pipeline-glue"
    assert "not the configured runtime python3.12" in lam.local_note("3.11.7")
    assert "(3 x G.1X): DPU sizing is not emulated" in glue.local_note("3.11.7")
    assert [key for key, _ in lam.config_rows()] == ["function", "layer", "execution role", "log group"]
    assert [key for key, _ in glue.config_rows()] == ["glue job", "glue script", "glue role", "glue run rules"]
    assert lam.local_problem() is None
