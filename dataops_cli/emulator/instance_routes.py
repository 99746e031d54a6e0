"""The emulator's own two paths, in front of everything else: who it is, and stop.

`GET /_dataops/health` answers the health document (pid, endpoint, speed, run counters)
plus `instance` (a public fingerprint of the token) and `state_dir` (the directory it
serves); with an `X-Dataops-Challenge` header (16-128 hex characters) also `proof`, the
HMAC that only the holder of the instance token can compute (local/instance.py). The
CLI believes a state file only when that proof checks out.
`POST /_dataops/stop` with `X-Dataops-Token: <token>` makes the emulator stop itself
(202); a missing or wrong token is 403 and changes nothing. A web page cannot send that
header cross-origin without a CORS preflight, which the emulator never grants.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from dataops_cli.local.instance import (
    HEALTH_PATH,
    STOP_PATH,
    fingerprint,
    proof,
    same_secret,
    valid_challenge,
)

StartResponse = Callable[..., Any]
_CHALLENGE_KEY = "HTTP_X_DATAOPS_CHALLENGE"
_TOKEN_KEY = "HTTP_X_DATAOPS_TOKEN"


class InstanceRoutes:
    """WSGI: answers /_dataops/health (with the proof) and /_dataops/stop, passes everything else to `app`."""

    def __init__(
        self,
        app: Callable[[dict[str, Any], StartResponse], Iterable[bytes]],
        token: str,
        state_dir: str,
        health: Callable[[], dict[str, Any]],
        stop: Callable[[str], None],
    ) -> None:
        self.app, self.token, self.state_dir, self.health, self.stop = app, token, state_dir, health, stop

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "GET")
        if path == HEALTH_PATH and method == "GET":
            return self.describe(environ.get(_CHALLENGE_KEY, ""), start_response)
        if path == STOP_PATH:
            if method != "POST":
                return _answer(start_response, 405, {"message": "POST with X-Dataops-Token"})
            if not same_secret(environ.get(_TOKEN_KEY, ""), self.token):
                return _answer(start_response, 403, {"message": "a valid X-Dataops-Token is required"})
            self.stop("asked to stop over HTTP by the holder of its token")
            return _answer(start_response, 202, {"stopping": True})
        return self.app(environ, start_response)

    def describe(self, challenge: str, start_response: StartResponse) -> list[bytes]:
        document = {**self.health(), "instance": fingerprint(self.token), "state_dir": self.state_dir}
        if challenge:
            if not valid_challenge(challenge):
                return _answer(start_response, 400, {"message": "X-Dataops-Challenge must be 16-128 hex characters"})
            document["proof"] = proof(self.token, challenge, self.state_dir)
        return _answer(start_response, 200, document)


def _answer(start_response: StartResponse, status: int, document: dict[str, Any]) -> list[bytes]:
    reasons = {200: "OK", 202: "Accepted", 400: "Bad Request", 403: "Forbidden", 405: "Method Not Allowed"}
    body = json.dumps(document).encode()
    start_response(
        f"{status} {reasons[status]}",
        [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
    )
    return [body]
