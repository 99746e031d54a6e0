"""The emulator process: moto's server on 127.0.0.1 with Lambda and Glue runs and a schedule timer added.

Started in the background by `dataops local start` (or `dataops --local up`) as
`python -m dataops_cli.emulator.server --state-dir DIR [--port N] [--speed N]`. It binds
a loopback port, makes random owner credentials and writes them to DIR/credentials.json
(0600), publishes the stand-in pandas layer, writes DIR/emulator.json (pid, port, speed,
start time) only once it answers, and on SIGTERM/SIGINT stops the scheduler, kills runs
still going, removes both files and exits. Every request must be signed by the owner or by
a role session the emulator issued (access.py); see docs/SECURITY.md.
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import shutil
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from dataops_cli import __version__
from dataops_cli.emulator import moto_internals
from dataops_cli.emulator.access import AccessGate
from dataops_cli.emulator.glue_service import GlueService
from dataops_cli.emulator.glue_state_events import GlueStateEvents
from dataops_cli.emulator.identities import CredentialStore, new_owner_secret
from dataops_cli.emulator.lambda_service import LambdaService
from dataops_cli.emulator.loopback_clients import LocalClients
from dataops_cli.emulator.middleware import EmulatorApp
from dataops_cli.emulator.roles import Roles
from dataops_cli.emulator.runner import FunctionSpec
from dataops_cli.emulator.scheduler import SchedulerThread, ScheduleSource, ScheduleTarget, VirtualClock
from dataops_cli.emulator.telemetry import Telemetry
from dataops_cli.local.credentials import remove_owner_credentials, save_owner_credentials
from dataops_cli.local.stand_in_layer import STAND_IN_LAYER, publish_stand_in_layer
from dataops_cli.local.state import EmulatorState, log_path, remove_state, write_state

log = logging.getLogger("dataops.emulator")


class Emulator:
    """One emulator: HTTP server, Lambda and Glue services and scheduler, sharing one endpoint."""

    def __init__(self, host: str, port: int, speed: float, directory: Path, region: str) -> None:
        from werkzeug.serving import make_server

        self.started = time.time()
        self.speed, self.directory, self.region = speed, directory, region
        moto_internals.tolerate_missing_docker()
        self.server = make_server(
            host, port, None, threaded=True, request_handler=moto_internals.moto_request_handler()
        )
        self.host, self.port = host, int(self.server.server_port)
        self.endpoint = f"http://{host}:{self.port}"
        owner = new_owner_secret()
        self.owner_keys = (owner.access_key, owner.secret_key)
        store = CredentialStore(owner, moto_internals.DEFAULT_ACCOUNT)
        roles = Roles(store, moto_internals.role_documents)
        self.clients = LocalClients(self.endpoint, self.owner_keys)
        self.cache = directory / "functions"
        telemetry = Telemetry(self.clients, self._function_exists, roles)
        self.service = LambdaService(
            self.endpoint, self.cache, telemetry, moto_internals.function_spec, speed, roles=roles
        )
        state_events = GlueStateEvents(self.clients, telemetry, moto_internals.event_pattern_matches)
        self.glue = GlueService(
            self.endpoint,
            directory / "glue-runs",
            self.clients,
            moto_internals.glue_job_spec,
            on_finished=state_events,
            roles=roles,
            session_clients=self.clients.session,
        )
        app = EmulatorApp(
            moto_internals.moto_wsgi_app(),
            self.service,
            moto_internals.function_spec,
            self.health,
            region,
            glue=self.glue,
            roles=roles,
        )
        self.server.app = AccessGate(app, store, roles, host, self.port)
        clock = VirtualClock(self.started, speed)
        source = ScheduleSource(self.clients, moto_internals.scheduler_regions)
        self.scheduler = SchedulerThread(source, ScheduleTarget(self.clients, telemetry, roles), clock)
        self._serving = threading.Thread(target=self.server.serve_forever, name="http", daemon=True)

    @staticmethod
    def _function_exists(spec: FunctionSpec) -> bool:
        return moto_internals.function_spec(spec.account, spec.region, spec.name) is not None

    def health(self) -> dict[str, Any]:
        return {
            "service": "dataops-emulator",
            "version": __version__,
            "pid": os.getpid(),
            "endpoint": self.endpoint,
            "speed": self.speed,
            "started": self.started,
            "functions": self.service.snapshot(),
            "glue_job_runs": self.glue.snapshot(),
        }

    def state(self) -> EmulatorState:
        return EmulatorState(
            pid=os.getpid(),
            host=self.host,
            port=self.port,
            speed=self.speed,
            started=self.started,
            log=str(log_path(self.directory)),
        )

    def start(self) -> None:
        save_owner_credentials(self.directory, self.owner_keys)
        self._serving.start()
        try:
            arn = publish_stand_in_layer(self.clients("lambda", self.region))
        except (ClientError, BotoCoreError) as exc:
            log.warning("could not publish the stand-in %s layer: %s", STAND_IN_LAYER, exc)
        else:
            log.info("published the stand-in layer %s", arn)
        self.scheduler.start()
        write_state(self.directory, self.state())
        log.info(
            "dataops emulator %s listening on %s (pid %d, speed %gx)",
            __version__,
            self.endpoint,
            os.getpid(),
            self.speed,
        )

    def stop(self) -> None:
        self.scheduler.stop()
        killed = self.service.stop()
        if killed:
            log.info("killed %d function run(s) still going", killed)
        killed = self.glue.stop()
        if killed:
            log.info("killed %d Glue job run(s) still going", killed)
        self.server.shutdown()
        self.scheduler.join(timeout=5)
        remove_state(self.directory, os.getpid())
        remove_owner_credentials(self.directory, self.owner_keys)
        shutil.rmtree(self.cache, ignore_errors=True)
        shutil.rmtree(self.directory / "glue-runs", ignore_errors=True)
        log.info("stopped")


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m dataops_cli.emulator.server", description=__doc__)
    parser.add_argument("--state-dir", required=True, type=Path)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--speed", type=float, default=1.0, help="time compression for schedules")
    parser.add_argument("--region", default="ap-south-1", help="where to publish the stand-in layer")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    # The CLI holds SIGINT while it spawns us (see process._spawn) and the mask is inherited.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    if args.speed <= 0:
        log.error("--speed must be positive, got %s", args.speed)
        return 2
    if not is_loopback(args.host):
        log.error("--host must be a loopback address (the emulator answers only this machine), got %s", args.host)
        return 2
    emulator = Emulator(args.host, args.port, args.speed, args.state_dir, args.region)
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    emulator.start()
    try:
        while not stopping.wait(1.0):
            pass
    finally:
        emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
