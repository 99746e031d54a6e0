"""The emulator process: moto's server on 127.0.0.1 with Lambda and Glue runs and a schedule timer added.

Started in the background by `dataops local start` (or `dataops --local up`) as
`python -m dataops_cli.emulator.server --state-dir DIR [--port N] [--speed N]`. It refuses
(exit 2) a DIR another user could control and a non-loopback host, binds the port, makes
random owner credentials and writes them to DIR/credentials.json (0600) before it serves,
publishes the stand-in pandas layer, writes DIR/emulator.json (pid, port, speed, start
time, a random instance token) only once it answers, and stops (scheduler stopped, runs
killed, both files removed) on SIGTERM/SIGINT, on `POST /_dataops/stop` with its token, or
as soon as that file is gone or names another emulator (checked every second). Every
request must be signed by the owner or by a role session the emulator issued (access.py);
see docs/SECURITY.md. Function code and Glue runs are unpacked only in
DIR/emulator-<random>/, a 0700 folder it creates fresh and removes.
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
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
from dataops_cli.emulator.instance_routes import InstanceRoutes
from dataops_cli.emulator.lambda_service import LambdaService
from dataops_cli.emulator.loopback_clients import LocalClients
from dataops_cli.emulator.middleware import EmulatorApp
from dataops_cli.emulator.roles import Roles
from dataops_cli.emulator.runner import FunctionSpec
from dataops_cli.emulator.scheduler import SchedulerThread, ScheduleSource, ScheduleTarget, VirtualClock
from dataops_cli.emulator.state_watch import StateWatch
from dataops_cli.emulator.telemetry import Telemetry
from dataops_cli.emulator.warm_pool import DEFAULT_KEEP_ALIVE_SECONDS
from dataops_cli.local.credentials import remove_owner_credentials, save_owner_credentials
from dataops_cli.local.instance import new_token, served_dir
from dataops_cli.local.private_files import DIR_MODE, NotPrivateError, make_private_dir, remove_private_tree
from dataops_cli.local.stand_in_layer import STAND_IN_LAYER, publish_stand_in_layer
from dataops_cli.local.state import (
    INSTANCE_DIR_PREFIX,
    EmulatorState,
    check_state_dir,
    log_path,
    remove_state,
    write_state,
)

log = logging.getLogger("dataops.emulator")


class Emulator:
    """One emulator: HTTP server, Lambda and Glue services and scheduler, sharing one endpoint."""

    def __init__(
        self,
        host: str,
        port: int,
        speed: float,
        directory: Path,
        region: str,
        keep_alive: float = DEFAULT_KEEP_ALIVE_SECONDS,
    ) -> None:
        from werkzeug.serving import make_server

        self.started = time.time()
        self.speed, self.directory, self.region, self.keep_alive = speed, directory, region, keep_alive
        self.token = new_token()  # who this emulator is: only it and its state file (0600) know it
        self.stopping = threading.Event()
        moto_internals.tolerate_missing_docker()
        moto_internals.forget_tags_on_delete()
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
        telemetry = self._start_services(directory, speed, keep_alive, roles)
        app = EmulatorApp(
            moto_internals.moto_wsgi_app(),
            self.service,
            moto_internals.function_spec,
            self.health,
            region,
            glue=self.glue,
            roles=roles,
        )
        # The gate first (owner's or a role session's signature; /_dataops/ for the owner only),
        # then the instance's own paths, then the services.
        routes = InstanceRoutes(app, self.token, served_dir(directory), self.health, self.request_stop)
        self.server.app = AccessGate(routes, store, roles, host, self.port)
        self.watch = StateWatch(directory, self.token, self.request_stop)
        clock = VirtualClock(self.started, speed)
        source = ScheduleSource(self.clients, moto_internals.scheduler_regions)
        self.scheduler = SchedulerThread(source, ScheduleTarget(self.clients, telemetry, roles), clock)
        self._serving = threading.Thread(target=self.server.serve_forever, name="http", daemon=True)

    def _start_services(self, directory: Path, speed: float, keep_alive: float, roles: Roles) -> Telemetry:
        """The Lambda and Glue services, in a private folder of their own; returns their telemetry."""
        # Code is never taken from a folder found by name: only from one made fresh here (0700, random name).
        self.private = make_private_dir(directory, INSTANCE_DIR_PREFIX)
        self.cache = self.private / "functions"
        self.cache.mkdir(DIR_MODE)
        (self.private / "glue-runs").mkdir(DIR_MODE)
        telemetry = Telemetry(self.clients, self._function_exists, roles)
        self.service = LambdaService(
            self.endpoint,
            self.cache,
            telemetry,
            moto_internals.function_spec,
            speed,
            roles=roles,
            keep_alive_seconds=keep_alive,
        )
        state_events = GlueStateEvents(self.clients, telemetry, moto_internals.event_pattern_matches)
        self.glue = GlueService(
            self.endpoint,
            self.private / "glue-runs",
            self.clients,
            moto_internals.glue_job_spec,
            on_finished=state_events,
            roles=roles,
            session_clients=self.clients.session,
        )
        return telemetry

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
            "keep_alive": self.keep_alive,
            "environments": self.service.environments.counts(),
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
            token=self.token,
        )

    def request_stop(self, reason: str) -> None:
        """Stop as on SIGTERM (the main loop notices within a second)."""
        if not self.stopping.is_set():
            log.info("stopping: %s", reason)
        self.stopping.set()

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
        self.watch.start()
        log.info(
            "dataops emulator %s listening on %s (pid %d, speed %gx)",
            __version__,
            self.endpoint,
            os.getpid(),
            self.speed,
        )

    def stop(self) -> None:
        self.watch.stop()
        self.scheduler.stop()
        ended = self.service.stop()
        if ended:
            log.info("ended %d execution environment(s)", ended)
        killed = self.glue.stop()
        if killed:
            log.info("killed %d Glue job run(s) still going", killed)
        self.server.shutdown()
        self.scheduler.join(timeout=5)
        remove_state(self.directory, token=self.token)  # only if it still names this emulator
        remove_owner_credentials(self.directory, self.owner_keys)  # only if they are still this emulator's
        remove_private_tree(self.private)
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
    parser.add_argument(
        "--keep-alive",
        type=float,
        default=DEFAULT_KEEP_ALIVE_SECONDS,
        help="seconds (of schedule time, compressed by --speed) an idle execution environment is kept",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    # A parent may have spawned us with SIGINT blocked (a signal mask is inherited): take both.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    if args.speed <= 0:
        log.error("--speed must be positive, got %s", args.speed)
        return 2
    if args.keep_alive < 0:
        log.error("--keep-alive must be 0 or more seconds, got %s", args.keep_alive)
        return 2
    if not is_loopback(args.host):
        log.error("--host must be a loopback address (the emulator answers only this machine), got %s", args.host)
        return 2
    try:
        check_state_dir(args.state_dir, create=True)
    except NotPrivateError as exc:
        log.error("%s (%s)", exc, exc.hint)
        return 2
    emulator = Emulator(args.host, args.port, args.speed, args.state_dir, args.region, args.keep_alive)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: emulator.stopping.set())
    emulator.start()
    try:
        while not emulator.stopping.wait(1.0):
            pass
    finally:
        emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
