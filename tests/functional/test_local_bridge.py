"""The --local bridge: emulator clients only, the stand-in layer, the documented gaps, the time scale."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from dataops_cli.aws import Aws, DataopsError
from dataops_cli.config import parse_config
from dataops_cli.deploy.resources.base import StackContext
from dataops_cli.local import bridge
from dataops_cli.local.credentials import save_owner_credentials
from dataops_cli.local.state import EmulatorState

PINNED = "arn:aws:lambda:ap-south-1:336392948345:layer:AWSSDKPandas-Python312:29"


@pytest.fixture
def moto_server(aws_env: None) -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def local_aws(endpoint: str) -> Aws:
    """Clients for a plain moto server (it checks no signature: any keys will do)."""
    return Aws(region="ap-south-1", endpoint_url=endpoint, credentials=("testing", "testing"))


def test_the_stack_context_names_what_the_emulator_cannot_do():
    ctx = bridge.local_stack_context(parse_config({}), local_aws("http://127.0.0.1:1"))
    assert set(ctx.gaps) == {"tls_policy", "percentiles"}
    assert "aws:SecureTransport" in ctx.gaps["tls_policy"]
    assert "REPORT log lines" in ctx.gaps["percentiles"]
    assert ctx.layer_resolver is bridge.stand_in_layer_arn


def test_a_pinned_aws_layer_arn_is_replaced_by_the_stand_in():
    config = parse_config({"function": {"layer_arn": PINNED}})
    ctx = bridge.local_stack_context(config, local_aws("http://127.0.0.1:1"))
    assert ctx.config.function.layer_arn == ""


def test_local_mode_refuses_clients_that_would_reach_aws():
    with pytest.raises(DataopsError):
        bridge.local_stack_context(parse_config({}), Aws(region="ap-south-1"))
    with pytest.raises(DataopsError):
        bridge.stand_in_layer_arn(StackContext(config=parse_config({}), aws=Aws(region="ap-south-1")))


def test_the_layer_resolves_to_the_latest_stand_in_version_publishing_one_if_needed(moto_server):
    aws = local_aws(moto_server)
    ctx = bridge.local_stack_context(parse_config({}), aws)
    first = bridge.stand_in_layer_arn(ctx)
    assert first == "arn:aws:lambda:ap-south-1:123456789012:layer:AWSSDKPandas-Python312:1"
    assert bridge.stand_in_layer_arn(ctx) == first  # found, not published again
    from dataops_cli.local.stand_in_layer import publish_stand_in_layer

    publish_stand_in_layer(aws.client("lambda"))
    assert bridge.stand_in_layer_arn(ctx).endswith(":AWSSDKPandas-Python312:2")


def test_arm64_functions_get_the_arm64_stand_in(moto_server):
    config = parse_config({"function": {"architecture": "arm64"}})
    ctx = bridge.local_stack_context(config, local_aws(moto_server))
    assert bridge.stand_in_layer_arn(ctx).endswith(":layer:AWSSDKPandas-Python312-Arm64:1")


def test_local_aws_points_every_client_at_the_running_emulator_with_its_owner_credentials(monkeypatch, tmp_path):
    state = EmulatorState(4242, "127.0.0.1", 4566, 60.0, 0.0, "/x/log")
    monkeypatch.setattr(bridge, "live_state", lambda directory: (state, False))
    save_owner_credentials(tmp_path, ("AKIAOWNER", "owner-secret"))
    aws = bridge.local_aws(parse_config({}), tmp_path)
    assert aws.local and aws.endpoint_url == "http://127.0.0.1:4566"
    assert aws.credentials == ("AKIAOWNER", "owner-secret") and aws.profile is None
    assert bridge.time_scale(tmp_path) == 60.0


def test_local_aws_says_so_when_the_emulators_credentials_cannot_be_read(monkeypatch, tmp_path):
    state = EmulatorState(4242, "127.0.0.1", 4566, 60.0, 0.0, "/x/log")
    monkeypatch.setattr(bridge, "live_state", lambda directory: (state, False))
    with pytest.raises(DataopsError, match="cannot read the local emulator's credentials") as caught:
        bridge.local_aws(parse_config({}), tmp_path)
    assert "dataops local stop" in str(caught.value.hint)


def test_time_scale_is_1_without_an_emulator(tmp_path):
    assert bridge.time_scale(tmp_path) == 1.0
