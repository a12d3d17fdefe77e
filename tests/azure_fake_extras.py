"""More of the fake ARM server (``tests/azure_fake.py``), kept apart to keep each module readable: recovery plans
and their test failover, the ASR Providers on a VMM server, recovery points, resource provider registration,
and throttling.

``Extras(fake)`` holds the state and route handlers; ``FakeAzure`` adds its routes and calls its hooks:

* recovery plans (``replicationRecoveryPlans``): list, get, create, update, delete, each write an ASR job like
  the rest of the vault, shaped on ReplicationRecoveryPlans_Create.json/_Update.json (ASR adds its Shutdown and
  Failover groups); every VM of a plan must be a protected item of the vault;
* test failover and its cleanup, of a protected item or a plan (an ASR job; the item's ``testFailoverState``
  goes WaitingForCompletion, then None after cleanup); recovery points of a protected item;
* ASR Providers (``replicationRecoveryServicesProviders``, vault-wide list);
* resource providers: ``unregister(subscription, namespace)`` makes every write under that namespace answer 409
  MissingSubscriptionRegistration until POST ``.../providers/{namespace}/register`` (Registering, then Registered
  after ``job_polls`` reads);
* ``throttle_every = n``: every n-th ARM request answers 429 with ``Retry-After: throttle_retry_after``.
"""

from __future__ import annotations

import copy
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.azure_fake import FakeAzure, _Request, _Response, _RouteHandler

JSON = dict[str, Any]

_SUB = r"/subscriptions/(?P<sub>[^/]+)"
_NAMESPACE = _SUB + r"/providers/(?P<namespace>[A-Za-z]+\.[A-Za-z]+)"


class Extras:
    def __init__(self, fake: FakeAzure) -> None:
        self.fake = fake
        self.throttle_every = 0
        self.throttle_retry_after = 0
        self.throttled = 0
        self._requests = 0
        self._unregistered: dict[tuple[str, str], int] = {}  # (sub, namespace) -> polls left once registering

    # ------------------------------------------------------------------------------------------------ hooks

    def routes(self, vault: str, container: str) -> list[tuple[str, _RouteHandler]]:
        plans = vault + r"/replicationrecoveryplans"
        items = container + r"/replicationprotecteditems/(?P<name>[^/]+)"
        return [
            (_NAMESPACE, self._namespace),
            (_NAMESPACE + r"/register", self._register),
            (plans, self.fake._vault_list("recovery_plans")),
            (plans + r"/(?P<name>[^/]+)", self._plan),
            (plans + r"/(?P<name>[^/]+)/(?P<action>testfailover|testfailovercleanup)", self._plan_action),
            (vault + r"/replicationrecoveryservicesproviders", self.fake._vault_list("providers")),
            (items + r"/(?P<action>testfailover|testfailovercleanup)", self._item_action),
            (items + r"/recoverypoints", self._recovery_points),
        ]

    def before(self, req: _Request) -> None:
        """Called for every ARM request before it is routed: throttling, then missing registrations."""
        from tests.azure_fake import ArmError

        self._requests += 1
        if self.throttle_every and self._requests % self.throttle_every == 0:
            self.throttled += 1
            raise ArmError(
                429,
                "TooManyRequests",
                "The request is being throttled.",
                {"Retry-After": str(self.throttle_retry_after)},
            )
        if req.method == "GET" or req.path.lower().endswith("/register"):
            return
        for (sub, namespace), _left in self._unregistered.items():
            if req.path.lower().startswith(f"/subscriptions/{sub}".lower()) and f"/providers/{namespace}/".lower() in (
                req.path.lower() + "/"
            ):
                message = (
                    f"The subscription is not registered to use namespace '{namespace}'. See "
                    "https://aka.ms/rps-not-found for how to register subscriptions."
                )
                raise ArmError(
                    409,
                    "MissingSubscriptionRegistration",
                    message,
                    details=[{"code": "MissingSubscriptionRegistration", "target": namespace, "message": message}],
                )

    # ------------------------------------------------------------------------------------- resource providers

    def unregister(self, subscription: str, namespace: str) -> None:
        with self.fake._lock:
            self._unregistered[(subscription.lower(), namespace)] = -1

    def registered(self, subscription: str, namespace: str) -> bool:
        with self.fake._lock:
            return (subscription.lower(), namespace) not in self._unregistered

    def _state(self, sub: str, namespace: str) -> str:
        key = next((k for k in self._unregistered if k[0] == sub.lower() and k[1].lower() == namespace.lower()), None)
        if key is None:
            return "Registered"
        left = self._unregistered[key]
        if left < 0:
            return "NotRegistered"
        if left == 0:
            del self._unregistered[key]
            return "Registered"
        self._unregistered[key] = left - 1
        return "Registering"

    def _provider(self, sub: str, namespace: str, state: str) -> JSON:
        return {
            "id": f"/subscriptions/{sub}/providers/{namespace}",
            "namespace": namespace,
            "registrationState": state,
            "registrationPolicy": "RegistrationRequired",
            "resourceTypes": [],
        }

    def _namespace(self, req: _Request, m: re.Match[str]) -> _Response:
        from tests.azure_fake import _Response

        self.fake._methods(req, "GET")
        return _Response(200, self._provider(m["sub"], m["namespace"], self._state(m["sub"], m["namespace"])))

    def _register(self, req: _Request, m: re.Match[str]) -> _Response:
        from tests.azure_fake import _Response

        self.fake._methods(req, "POST")
        key = next(
            (k for k in self._unregistered if k[0] == m["sub"].lower() and k[1].lower() == m["namespace"].lower()),
            None,
        )
        if key is not None and self._unregistered[key] < 0:
            self._unregistered[key] = max(0, self.fake.job_polls)
        state = "Registered" if key is None else "Registering"
        return _Response(200, self._provider(m["sub"], m["namespace"], state))

    # ------------------------------------------------------------------------------------------ recovery plans

    def _plan(self, req: _Request, m: re.Match[str]) -> _Response:
        from tests.azure_fake import _Response

        fake = self.fake
        fake._methods(req, "GET", "PUT", "PATCH", "DELETE")
        scope, key, existing = fake._asr_lookup(req, m)
        name = existing["name"] if existing is not None else m["name"]
        if req.method == "GET":
            if existing is None:
                raise fake._asr_missing(key)
            return _Response(200, copy.deepcopy(existing))
        if req.method == "DELETE":
            if existing is None:
                return _Response(204)
            return fake._start_job(
                req,
                scope,
                scenario="DeleteRecoveryPlan",
                friendly_name="Delete recovery plan",
                target=existing,
                target_name=name,
                target_type="RecoveryPlan",
                apply=lambda: fake._delete_tree(key),
            )
        if req.method == "PATCH" and existing is None:
            raise fake._asr_missing(key)
        properties = (req.body or {}).get("properties") or {}
        plan = copy.deepcopy(existing) if existing is not None else self._new_plan(scope, name, properties)
        plan["properties"]["groups"] = self._groups(scope, properties.get("groups"))
        return fake._start_job(
            req,
            scope,
            scenario="CreateRecoveryPlan" if existing is None else "UpdateRecoveryPlan",
            friendly_name="Create recovery plan" if existing is None else "Update recovery plan",
            target=plan,
            target_name=name,
            target_type="RecoveryPlan",
            apply=lambda: fake._put(plan),
        )

    def _new_plan(self, scope: Any, name: str, properties: JSON) -> JSON:
        from tests.azure_fake import AZURE, _bad_request

        fabric = self.fake._object(str(properties.get("primaryFabricId") or ""))
        if fabric is None:
            raise _bad_request("InvalidPrimaryFabric", f"The fabric '{properties.get('primaryFabricId')}' is unknown.")
        if str(properties.get("recoveryFabricId")).lower() != AZURE.lower():
            raise _bad_request("InvalidRecoveryFabric", f"recoveryFabricId must be '{AZURE}'.")
        return {
            "id": f"{scope.prefix}/replicationRecoveryPlans/{name}",
            "name": name,
            "type": "Microsoft.RecoveryServices/vaults/replicationRecoveryPlans",
            "properties": {
                "friendlyName": name,
                "primaryFabricId": fabric["id"],
                "primaryFabricFriendlyName": fabric["properties"]["friendlyName"],
                "recoveryFabricId": AZURE,
                "recoveryFabricFriendlyName": AZURE,
                "failoverDeploymentModel": properties.get("failoverDeploymentModel") or "ResourceManager",
                "replicationProviders": ["HyperVReplicaAzure"],
                "allowedOperations": ["PlannedFailover", "UnplannedFailover", "TestFailover"],
                "currentScenarioStatus": "Succeeded",
                "groups": [],
            },
        }

    def _groups(self, scope: Any, groups: Any) -> list[JSON]:
        """The plan's groups: ASR's Shutdown and Failover groups first, every VM a protected item of the vault."""
        from tests.azure_fake import _bad_request, _key

        out = [g for g in groups or [] if str(g.get("groupType", "")).lower() in ("shutdown", "failover", "boot")]
        for kind in ("Failover", "Shutdown"):
            if not any(str(g.get("groupType", "")).lower() == kind.lower() for g in out):
                out.insert(
                    0,
                    {
                        "groupType": kind,
                        "replicationProtectedItems": [],
                        "startGroupActions": [],
                        "endGroupActions": [],
                    },
                )
        for group in out:
            for item in group.get("replicationProtectedItems") or []:
                if (
                    not _key(str(item.get("id", ""))).startswith(scope.key + "/")
                    or self.fake._object(item["id"]) is None
                ):
                    raise _bad_request(
                        "ProtectedItemNotFound",
                        f"The replicated item '{item.get('id')}' is not protected in the vault.",
                    )
            group.setdefault("startGroupActions", [])
            group.setdefault("endGroupActions", [])
        return copy.deepcopy(out)

    # ------------------------------------------------------------------------------------ test failover, points

    def _plan_action(self, req: _Request, m: re.Match[str]) -> _Response:
        fake = self.fake
        fake._methods(req, "POST")
        scope, key, plan = fake._asr_lookup(req, m)
        plan = fake._object(key.rsplit("/", 1)[0])
        if plan is None:
            raise fake._asr_missing(key)
        cleanup = m["action"].lower() == "testfailovercleanup"
        items = [
            fake._object(i["id"])
            for g in plan["properties"]["groups"]
            for i in g.get("replicationProtectedItems") or []
        ]

        def done() -> None:
            current = fake._object(plan["id"])
            if current is not None:
                current["properties"]["currentScenarioStatus"] = "Succeeded" if cleanup else "Suspended"
                if not cleanup:
                    current["properties"]["lastTestFailoverTime"] = _now()
            for item in items:
                if item is not None:
                    item["properties"]["testFailoverState"] = "None" if cleanup else "WaitingForCompletion"

        return fake._start_job(
            req,
            scope,
            scenario="TestFailoverCleanup" if cleanup else "TestFailover",
            friendly_name="Cleanup test failover" if cleanup else "Test failover",
            target=plan,
            target_name=plan["name"],
            target_type="RecoveryPlan",
            apply=done,
        )

    def _item_action(self, req: _Request, m: re.Match[str]) -> _Response:
        from tests.azure_fake import _bad_request

        fake = self.fake
        fake._methods(req, "POST")
        scope, key, _ = fake._asr_lookup(req, m)
        item = fake._object(key.rsplit("/", 1)[0])
        if item is None:
            raise fake._asr_missing(key)
        cleanup = m["action"].lower() == "testfailovercleanup"
        properties = (req.body or {}).get("properties") or {}
        if not cleanup and not properties.get("failoverDirection"):
            raise _bad_request("InvalidFailoverDirection", "failoverDirection is required.")

        def done() -> None:
            current = fake._object(item["id"])
            if current is not None:
                current["properties"]["testFailoverState"] = "None" if cleanup else "WaitingForCompletion"

        return fake._start_job(
            req,
            scope,
            scenario="TestFailoverCleanup" if cleanup else "TestFailover",
            friendly_name="Cleanup test failover" if cleanup else "Test failover",
            target=item,
            target_name=item["properties"]["friendlyName"],
            target_type="ProtectionEntity",
            apply=done,
        )

    def _recovery_points(self, req: _Request, m: re.Match[str]) -> _Response:
        fake = self.fake
        fake._methods(req, "GET")
        _, key, _ = fake._asr_lookup(req, m)
        item = fake._object(key.rsplit("/", 1)[0])
        if item is None:
            raise fake._asr_missing(key)
        base = item["id"] + "/recoveryPoints"
        points = [
            {
                "id": f"{base}/{n}",
                "name": str(n),
                "type": "Microsoft.RecoveryServices/vaults/replicationFabrics/replicationProtectionContainers/"
                "replicationProtectedItems/recoveryPoints",
                "properties": {"recoveryPointTime": when, "recoveryPointType": kind},
            }
            # unordered, as ASR answers: the latest is the greatest time, not the first
            for n, (when, kind) in enumerate(
                [
                    ("2026-12-06T04:00:00Z", "CrashConsistent"),
                    ("2026-12-06T05:00:00Z", "ApplicationConsistent"),
                    ("2026-12-06T03:00:00Z", "CrashConsistent"),
                ]
            )
        ]
        return fake._page(req, points)


def _now() -> str:
    from tests.azure_fake import _now as now

    return now()
