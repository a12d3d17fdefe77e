"""Launcher of one emulated BMC: OpenStack's sushy-tools Redfish emulator (fake driver) extended with a
vendor BIOS (tests/redfish_bios.py), a session service, immediate power changes, and TLS.

Run as ``python -m tests.redfish_emulator CONFIG.json`` (tests/redfish_server.py does it); it prints one
JSON line ``{"url": ...}`` once it listens, then serves until killed. The config names the vendor (dell or
hpe), the system's host name, the htpasswd file (bcrypt) of the one login, the TLS certificate and key, a
state folder, initial BIOS attributes, ``boot_polls`` and ``fail_jobs``.

What sushy-tools gives as shipped and is kept: the service root, systems, managers, chassis,
``ComputerSystem.Reset``, basic authentication from ``SUSHY_EMULATOR_AUTH_FILE``. What this adds:

- ``POST /redfish/v1/SessionService/Sessions`` (``UserName``/``Password`` checked against the same htpasswd)
  answering ``X-Auth-Token`` and a ``Location`` to ``DELETE`` at logout; the service root links them;
- the vendor's BIOS resources, registry and (Dell) jobs, at the vendor's paths, with Redfish error bodies;
- power changes land at once (the fake driver waits a random 1-11 s), and a reset boots the BIOS model.
"""

from __future__ import annotations

import json
import secrets
import ssl
import sys
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import flask
from sushy_tools import error
from sushy_tools.emulator import auth_basic
from sushy_tools.emulator import main as emulator
from sushy_tools.emulator.resources.systems import fakedriver
from werkzeug.serving import make_server

from tests.redfish_bios import BiosModel, RedfishError

JSON = dict[str, Any]
SESSIONS = "/redfish/v1/SessionService/Sessions"
StartResponse = Callable[..., Any]


class ImmediateDriver(fakedriver.FakeDriver):  # type: ignore[misc]
    """The fake driver with power changes applied at once; a restart or power-on boots the BIOS model."""

    bios: BiosModel | None = None

    def set_power_state(self, identity: str, state: str) -> None:
        system = self._get(identity)
        if "Restart" in state or state in ("On", "ForceOn"):
            booted = "Restart" in state or system["power_state"] == "Off"
            target = "On"
        elif state in ("ForceOff", "GracefulShutdown"):
            booted, target = False, "Off"
        else:
            raise error.NotSupportedError(f"Power state {state} is not supported")
        self._update(system, power_state=target, pending_power=None)
        if booted and self.bios is not None:
            self.bios.on_reset()


class SessionAuth:
    """Redfish sessions in front of sushy-tools' basic authentication: a valid X-Auth-Token goes straight to
    the application, anything else through the basic-auth middleware."""

    def __init__(self, plain: Any, basic: Any, auth_file: str) -> None:
        self.plain, self.basic, self.auth_file = plain, basic, auth_file
        self.tokens: dict[str, tuple[str, str]] = {}  # token -> (session id, user)
        self._lock = threading.Lock()

    def __call__(self, env: JSON, start_response: StartResponse) -> Iterable[bytes]:
        path, method = env.get("PATH_INFO", "").rstrip("/"), env.get("REQUEST_METHOD", "GET")
        if path == SESSIONS and method == "POST":
            return self._login(env, start_response)
        token = env.get("HTTP_X_AUTH_TOKEN")
        if token is None:
            return self.basic(env, start_response)  # type: ignore[no-any-return]
        with self._lock:
            session = self.tokens.get(token)
        if session is None:
            return _json(start_response, 401, _error("Base.1.12.NoValidSession", "There is no valid session."))
        if method == "DELETE" and path == f"{SESSIONS}/{session[0]}":
            with self._lock:
                self.tokens.pop(token, None)
            start_response("204 No Content", [])
            return [b""]
        return self.plain(env, start_response)  # type: ignore[no-any-return]

    def _login(self, env: JSON, start_response: StartResponse) -> Iterable[bytes]:
        length = int(env.get("CONTENT_LENGTH") or 0)
        try:
            body = json.loads(env["wsgi.input"].read(length) or b"{}")
            user, password = str(body["UserName"]), str(body["Password"])
            auth_basic.authenticate(self.auth_file, user, password.encode())
        except (ValueError, KeyError, TypeError, error.FishyError):
            return _json(start_response, 401, _error("Base.1.12.AccessDenied", "Invalid user name or password."))
        token, session_id = secrets.token_hex(16), secrets.token_hex(4)
        with self._lock:
            self.tokens[token] = (session_id, user)
        body = {"@odata.id": f"{SESSIONS}/{session_id}", "Id": session_id, "UserName": user}
        return _json(start_response, 201, body, [("X-Auth-Token", token), ("Location", f"{SESSIONS}/{session_id}")])

    def sessions(self) -> list[str]:
        with self._lock:
            return [sid for sid, _ in self.tokens.values()]


def _error(message_id: str, message: str) -> JSON:
    return {"error": {"code": message_id, "message": message, "@Message.ExtendedInfo": [{"MessageId": message_id}]}}


def _json(
    start_response: StartResponse, status: int, body: JSON, headers: list[tuple[str, str]] | None = None
) -> list[bytes]:
    reasons = {200: "OK", 201: "Created", 202: "Accepted", 401: "Unauthorized"}
    data = json.dumps(body).encode()
    start_response(
        f"{status} {reasons.get(status, 'Status')}",
        [("Content-Type", "application/json"), ("Content-Length", str(len(data))), *(headers or [])],
    )
    return [data]


def _respond(status: int, body: JSON, headers: dict[str, str] | None = None) -> flask.Response:
    return flask.Response(
        json.dumps(body) if body else "", status=status, content_type="application/json", headers=headers or {}
    )


def add_routes(app: Any, bios: BiosModel, auth: SessionAuth) -> None:
    """The vendor's BIOS, registry and job resources, and the changes to sushy-tools' own views."""

    def guarded(view: Callable[..., flask.Response]) -> Callable[..., flask.Response]:
        def run(*args: Any, **kwargs: Any) -> flask.Response:
            try:
                return view(*args, **kwargs)
            except RedfishError as exc:
                return _respond(exc.status, exc.body)

        run.__name__ = view.__name__
        return run

    @app.before_request  # type: ignore[untyped-decorator]
    def _poll() -> None:
        if flask.request.method == "GET" and flask.request.path.startswith((bios.system_path, bios.jobs_path)):
            bios.poll()

    rules: list[tuple[str, str, Callable[..., flask.Response], list[str]]] = [
        ("vendor_bios", bios.bios_path, lambda: _respond(200, bios.bios()), ["GET"]),
        ("bios_settings_vendor", f"{bios.bios_path}/Settings", lambda: _settings(bios), ["GET", "PATCH"]),
        ("bios_registry_vendor", bios.registry_path, lambda: _respond(200, bios.registry()), ["GET"]),
        ("bios_reset_vendor", f"{bios.bios_path}/Actions/Bios.ResetBios", lambda: _reset_bios(bios), ["POST"]),
        ("dell_jobs", bios.jobs_path, lambda: _respond(200, bios.job_collection()), ["GET"]),
        ("dell_job", f"{bios.jobs_path}/<job_id>", lambda job_id: _job(bios, job_id), ["GET", "DELETE"]),
        ("vendor_session_service", "/redfish/v1/SessionService", _session_service, ["GET"]),
        ("vendor_sessions", SESSIONS, lambda: _sessions(auth), ["GET"]),
    ]
    if bios.vendor == "hpe":
        rules.append(
            (
                "registry_file_vendor",
                f"/redfish/v1/Registries/{bios.registry_id}",
                lambda: _registry_file(bios),
                ["GET"],
            )
        )
    for endpoint, rule, view, methods in rules:
        app.add_url_rule(rule, endpoint=endpoint, view_func=guarded(view), methods=methods)
    if bios.vendor == "hpe":
        # sushy-tools' own /redfish/v1/Registries rule was added first and would win: route it to ours.
        app.view_functions["registry_file_collection"] = guarded(lambda: _registries(bios))

    system_view = app.view_functions["system_resource"]

    def system_resource(identity: str) -> Any:
        answer = system_view(identity=identity)
        if flask.request.method != "GET" or answer.status_code != 200:
            return answer
        body = answer.get_json()
        body["Bios"] = {"@odata.id": bios.bios_path}
        body["Manufacturer"] = "Dell Inc." if bios.vendor == "dell" else "HPE"
        body["Model"] = "PowerEdge R740" if bios.vendor == "dell" else "ProLiant DL380 Gen10"
        return _respond(200, body)

    app.view_functions["system_resource"] = system_resource
    root_view = app.view_functions["root_resource"]

    def root_resource() -> Any:
        body = root_view().get_json()
        body["SessionService"] = {"@odata.id": "/redfish/v1/SessionService"}
        body["Links"] = {"Sessions": {"@odata.id": SESSIONS}}
        body["Vendor"] = "Dell" if bios.vendor == "dell" else "HPE"
        return _respond(200, body)

    app.view_functions["root_resource"] = root_resource


def _settings(bios: BiosModel) -> flask.Response:
    if flask.request.method == "GET":
        return _respond(200, bios.settings())
    status, body, headers = bios.patch_settings(flask.request.get_json(force=True) or {})
    return _respond(status, body, headers)


def _reset_bios(bios: BiosModel) -> flask.Response:
    bios.reset_bios()
    return _respond(204, {})


def _job(bios: BiosModel, job_id: str) -> flask.Response:
    if flask.request.method == "DELETE":
        bios.delete_job(job_id)
        return _respond(200, {"@Message.ExtendedInfo": [{"MessageId": "Base.1.12.Success"}]})
    return _respond(200, bios.job(job_id))


def _session_service() -> flask.Response:
    return _respond(
        200,
        {
            "@odata.id": "/redfish/v1/SessionService",
            "Id": "SessionService",
            "ServiceEnabled": True,
            "SessionTimeout": 1800,
            "Sessions": {"@odata.id": SESSIONS},
        },
    )


def _sessions(auth: SessionAuth) -> flask.Response:
    members = [{"@odata.id": f"{SESSIONS}/{sid}"} for sid in auth.sessions()]
    return _respond(200, {"@odata.id": SESSIONS, "Members": members, "Members@odata.count": len(members)})


def _registries(bios: BiosModel) -> flask.Response:
    member = {"@odata.id": f"/redfish/v1/Registries/{bios.registry_id}"}
    return _respond(200, {"@odata.id": "/redfish/v1/Registries", "Members": [member], "Members@odata.count": 1})


def _registry_file(bios: BiosModel) -> flask.Response:
    return _respond(
        200,
        {
            "@odata.id": f"/redfish/v1/Registries/{bios.registry_id}",
            "Id": bios.registry_id,
            "Registry": bios.registry_id,
            "Location": [{"Language": "en", "Uri": bios.registry_path}],
        },
    )


def main(config_path: str) -> None:
    config: JSON = json.loads(Path(config_path).read_text())
    bios = BiosModel(
        vendor=config["vendor"],
        system_id="System.Embedded.1" if config["vendor"] == "dell" else "1",
        boot_polls=int(config.get("boot_polls", 1)),
        fail_jobs=bool(config.get("fail_jobs", False)),
        attributes=dict(config.get("attributes") or {}),
    )
    ImmediateDriver.bios = bios
    fakedriver.FakeDriver = ImmediateDriver  # main.py looks the driver class up at first use
    app = emulator.app
    plain = app.wsgi_app
    app.configure(
        extra_config={
            "SUSHY_EMULATOR_FAKE_DRIVER": True,
            "SUSHY_EMULATOR_STATE_DIR": config["state_dir"],
            "SUSHY_EMULATOR_AUTH_FILE": config["auth_file"],
            "SUSHY_EMULATOR_FAKE_SYSTEMS": [
                {
                    # The system's id in URLs is the fake driver's uuid key: the vendor's id.
                    "uuid": bios.system_id,
                    "name": config["name"],
                    "power_state": "On",
                    "nics": [{"mac": config.get("mac", "00:5c:52:31:3a:9c"), "ip": "192.0.2.10"}],
                }
            ],
        }
    )
    auth = SessionAuth(plain, app.wsgi_app, config["auth_file"])
    app.wsgi_app = auth
    add_routes(app, bios, auth)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(config["tls_cert"], config["tls_key"])
    server = make_server("127.0.0.1", 0, app, threaded=True, ssl_context=context)
    print(json.dumps({"url": f"https://127.0.0.1:{server.port}"}), flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main(sys.argv[1])
