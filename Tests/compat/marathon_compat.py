#!/usr/bin/env python3
"""Marathon compatibility, proven with other people's artefacts against a running Pacer framework.

Run by `MarathonCompatibilityTests` (make test) against a fresh cluster:
    marathon_compat.py --url http://127.0.0.1:PORT --fixtures Tests/PacerModelTests/Fixtures

1. Marathon's JSON Schema for app definitions (v1.7.236): every example spec is judged by it;
   specs it refuses, Pacer refuses with 422 naming the field; what Pacer stores validates.
2. Marathon's example payloads: Pacer's answers to the same requests carry every key of the
   example with the same JSON type (events.txt included).
3. The `marathon` PyPI client (0.13.0) and plain `requests` calls shaped as the DC/OS CLI
   sends them drive every app, task, deployment, queue, event, leader and info call.
Prints one line per check; exits 1 if any failed.
"""
import argparse
import copy
import json
import os
import re
import sys
import threading
import time

import collections
import collections.abc

import jsonschema
import requests

# marathon 0.13.0 (2019) serialises with `collections.Iterable`, removed in Python 3.10: a bug of
# the client on today's Python, not of any server. Restored here so its calls can be judged.
collections.Iterable = collections.abc.Iterable
from marathon import MarathonApp, MarathonClient  # noqa: E402
from marathon.models.group import MarathonGroup  # noqa: E402
from marathon.models.events import MarathonStatusUpdateEvent  # noqa: E402

FAILURES = []



def check(ok, what, detail=""):
    print(("ok   " if ok else "FAIL ") + what + ("" if ok or not detail else ": " + str(detail)[:600]))
    if not ok:
        FAILURES.append(what)
    return ok


def eventually(what, fn, within=30.0, every=0.25):
    deadline = time.time() + within
    last = None
    while time.time() < deadline:
        try:
            last = fn()
            if last:
                return last
        except Exception as e:  # the condition may raise while things settle
            last = e
        time.sleep(every)
    check(False, "eventually: " + what, last)
    return None


# ---------------------------------------------------------------------------------------------
# JSON shapes: every key of Marathon's example, with the same JSON type.

def json_type(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    return "object"


# Objects whose keys are the user's data, not part of Marathon's shape.
DATA_MAPS = {"env", "labels"}


def shape_errors(example, ours, path=""):
    """Keys of `example` missing from `ours` or of another JSON type. A null on either side says
    only that the key is there (an unset value). Arrays: the example's first element is compared
    with each of ours."""
    errors = []
    if isinstance(example, dict):
        if not isinstance(ours, dict):
            return [f"{path or '/'}: expected an object, got {json_type(ours)}"]
        for key, value in example.items():
            if key not in ours:
                errors.append(f"{path}/{key}: missing")
                continue
            if value is None or ours[key] is None:
                continue  # unset (Pacer has no containers: `container` is null)
            if json_type(ours[key]) != json_type(value):
                errors.append(f"{path}/{key}: {json_type(value)} in Marathon, {json_type(ours[key])} in Pacer")
                continue
            if key in DATA_MAPS:
                continue  # the user's names, not Marathon's
            errors += shape_errors(value, ours[key], f"{path}/{key}")
    elif isinstance(example, list) and example and isinstance(ours, list):
        for i, item in enumerate(ours):
            errors += shape_errors(example[0], item, f"{path}/{i}")
    return errors


# Keys of Marathon's examples Pacer leaves out on purpose, each with its reason (docs/API.md).
LEFT_OUT = {
    # Marathon 1.9 added `role` to queue items; the app in the item carries its role already, and
    # the `marathon` client (0.13) raises on a queue item with that key.
    "/queue/N/role",
}


def same_shape(name, example, ours):
    # List positions do not matter for what is left out (the queue may hold more than one app:
    # the replacement of a task killed just before is queued too until an offer comes).
    errors = [e for e in shape_errors(example, ours) if re.sub(r"/\d+/", "/N/", e.split(":")[0]) not in LEFT_OUT]
    check(not errors, f"shape of {name} matches Marathon's example", errors)


# ---------------------------------------------------------------------------------------------

class Compat:
    def __init__(self, url, fixtures):
        self.url = url.rstrip("/")
        self.fixtures = fixtures
        self.http = requests.Session()
        self.client = MarathonClient(self.url)
        schema = self.load("schema/AppDefinition.json")
        self.marathon_schema = jsonschema.Draft4Validator(schema)
        # Group.json refers to "./AppDefinition.json": resolved from the same directory.
        group_schema = self.load("schema/Group.json")
        from referencing import Registry, Resource
        from referencing.jsonschema import DRAFT4
        base = group_schema["id"].rsplit("/", 1)[0]
        registry = Registry().with_resource(base + "/AppDefinition.json", Resource.from_contents(schema, default_specification=DRAFT4))
        self.group_schema = jsonschema.Draft4Validator(group_schema, registry=registry)
        # Pacer's documented additions (docs/API.md); everything else stays as Marathon's schema says.
        extended = copy.deepcopy(schema)
        extended["properties"].update({
            "role": {"type": "string"},
            "resourceLimits": {"type": "object"},
            "kind": {"type": "string", "enum": ["service", "batch"]},
            "progressDeadlineSeconds": {"type": "number"},
            "autoRevert": {"type": "boolean"},
        })
        self.pacer_schema = jsonschema.Draft4Validator(extended)

    def load(self, name):
        with open(os.path.join(self.fixtures, name)) as f:
            return json.load(f)

    def get(self, path, **kw):
        r = self.http.get(self.url + path, timeout=10, **kw)
        r.raise_for_status()
        return r.json()

    def wait_deployments_done(self, app_id, within=30):
        return eventually(f"deployments of {app_id} finish",
                          lambda: not any(app_id in d["affectedApps"] for d in self.get("/v2/deployments")) or None,
                          within=within)

    # -- 1. the schema -----------------------------------------------------------------------

    def schema(self):
        examples = [("apps_create.json", a) for a in self.load("apps_create.json")]
        examples += [("app_patch.json", self.load("app_patch.json"))]
        examples += [("apps_patch.json", a) for a in self.load("apps_patch.json")]
        examples += [("queue.json", q["app"]) for q in self.load("queue.json")["queue"]]
        examples += [("app.json", self.load("app.json")), ("app-check-http-example.json", self.load("app-check-http-example.json"))]
        # Written for Marathon versions after the schema's (1.8+: `tty`, app-level `check`): the
        # schema refuses them, and so does Pacer, by field.
        newer = {"app.json": "/tty", "app-check-http-example.json": "/check"}
        unsupported = ("/container", "/executor", "/fetch", "/uris", "/secrets", "/ipAddress", "/env/")
        for name, spec in examples:
            errors = list(self.marathon_schema.iter_errors(spec))
            if name in newer:
                check(any(e.validator == "additionalProperties" for e in errors),
                      f"schema refuses {name} ({newer[name]}, newer than v1.7)", [e.message for e in errors])
                self.refused(f"{name} {spec['id']}", spec, newer[name])
                continue
            check(not errors, f"schema accepts example {name} {spec['id']}", [e.message for e in errors])
            if name == "app_patch.json" or name == "apps_patch.json":
                continue  # update bodies, posted below as PATCH
            # Their dependencies name apps that do not exist here (Pacer refuses those, naming them).
            spec = dict(spec, id="/schema" + ("" if spec["id"].startswith("/") else "/") + spec["id"], dependencies=[])
            r = self.http.post(self.url + "/v2/apps", json=spec, timeout=10)
            if r.status_code == 201:
                check(True, f"Pacer accepts example {name} {spec['id']}")
                self.http.delete(self.url + "/v2/apps" + spec["id"] + "?force=true", timeout=10)
            else:
                body = r.text
                check(r.status_code == 422 and any(f in body for f in unsupported),
                      f"Pacer refuses example {name} {spec['id']} only for what it does not run (containers, fetch, secrets)",
                      f"{r.status_code} {body}")

        # Specs Marathon's schema refuses: Pacer refuses each with 422 naming the field.
        base = {"id": "/bad", "cmd": "sleep 1", "cpus": 0.01, "mem": 8, "instances": 1}
        bad = [
            ({"healtChecks": []}, "/healtChecks"),
            ({"instances": -1}, "/instances"),
            ({"instances": "two"}, "/instances"),
            ({"cpus": "1"}, "/cpus"),
            ({"mem": -8}, "/mem"),
            ({"disk": -1}, "/disk"),
            ({"id": "/Upper/Case"}, "/id"),
            ({"id": "/a b"}, "/id"),
            ({"env": {"A": 1}}, "/env/A"),
            ({"labels": {"a": 1}}, "/labels/a"),
            ({"constraints": [["hostname"]]}, "/constraints/0"),
            ({"constraints": [["hostname", "SOMETIMES"]]}, "/constraints/0"),
            ({"portDefinitions": [{"port": 70000}]}, "/portDefinitions/0/port"),
            ({"portDefinitions": [{"port": 0, "protocol": "sctp-ish"}]}, "/portDefinitions/0/protocol"),
            ({"healthChecks": [{"protocol": "SMOKE_SIGNAL"}]}, "/healthChecks/0/protocol"),
            ({"healthChecks": [{"protocol": "HTTP", "portIndex": -1}]}, "/healthChecks/0/portIndex"),
            ({"upgradeStrategy": {"minimumHealthCapacity": 2}}, "/upgradeStrategy/minimumHealthCapacity"),
            ({"upgradeStrategy": {"maximumOverCapacity": -0.5}}, "/upgradeStrategy/maximumOverCapacity"),
            ({"backoffFactor": 0.5}, "/backoffFactor"),
            ({"backoffSeconds": -1}, "/backoffSeconds"),
            ({"maxLaunchDelaySeconds": -1}, "/maxLaunchDelaySeconds"),
            ({"killSelection": "RANDOM"}, "/killSelection"),
            ({"taskKillGracePeriodSeconds": -3}, "/taskKillGracePeriodSeconds"),
            ({"dependencies": ["/Not Valid"]}, "/dependencies/0"),
            ({"requirePorts": "yes"}, "/requirePorts"),
            ({"args": "sleep"}, "/args"),
            ({"user": 7}, "/user"),
            ({"unreachableStrategy": {"inactiveAfterSeconds": -1}}, "/unreachableStrategy/inactiveAfterSeconds"),
        ]
        for change, field in bad:
            spec = dict(base, **change)
            errors = list(self.marathon_schema.iter_errors(spec))
            if not check(errors, f"schema refuses {json.dumps(change)}"):
                continue
            self.refused(json.dumps(change), spec, field)

        # Groups: Marathon's example group is judged by Group.json, and what Pacer stores for a
        # group it accepted validates too (answer-only nulls dropped, as for apps).
        example_group = self.load("group.json")
        errors = [e.message for e in self.group_schema.iter_errors(example_group)]
        check(not errors, "Group.json accepts Marathon's example group", errors)
        group = {"id": "/schema-group", "apps": [{"id": "a", "cmd": "sleep 1", "cpus": 0.01, "mem": 8, "instances": 0}],
                 "groups": [{"id": "sub", "dependencies": ["/schema-group/a"],
                             "apps": [{"id": "b", "cmd": "sleep 1", "cpus": 0.01, "mem": 8, "instances": 0}]}]}
        check(not list(self.group_schema.iter_errors(group)), "Group.json accepts the group posted below")
        r = self.http.post(self.url + "/v2/groups", json=group, timeout=10)
        if check(r.status_code == 201 and "deploymentId" in r.json(), "Pacer accepts the group", f"{r.status_code} {r.text}"):
            stored = self.get("/v2/groups/schema-group")

            def strip(g):
                g = {k: v for k, v in g.items() if v is not None and k != "pods"}
                g["apps"] = [{k: v for k, v in a.items() if v is not None} for a in g.get("apps", [])]
                g["groups"] = [strip(s) for s in g.get("groups", [])]
                return g
            errors = [e.message for e in self.group_schema.iter_errors(strip(stored))]
            check(not errors, "the group as Pacer stores it validates against Group.json", errors)
            self.http.delete(self.url + "/v2/groups/schema-group?force=true", timeout=10)
        for change, field in [({"id": "/bad-group", "apps": [{"id": "x", "cmd": "sleep 1", "cpus": "1"}]}, "/apps/0/cpus"),
                              ({"id": "/bad-group", "colour": "red"}, "/colour"),
                              ({"id": "/Bad Group"}, "/id")]:
            if check(list(self.group_schema.iter_errors(change)), f"Group.json refuses {json.dumps(change)}"):
                r = self.http.post(self.url + "/v2/groups", json=change, timeout=10)
                check(r.status_code == 422 and field in r.text, f"Pacer refuses that group with 422 naming {field}", f"{r.status_code} {r.text}")

        # What Pacer accepts validates: the repository's example apps, as sent and as stored.
        apps_dir = os.path.join(os.path.dirname(__file__), "..", "..", "apps")
        for name in sorted(os.listdir(apps_dir)):
            with open(os.path.join(apps_dir, name)) as f:
                spec = json.load(f)
            errors = [e.message for e in self.pacer_schema.iter_errors(spec)]
            check(not errors, f"apps/{name} validates (Marathon's schema + Pacer's fields)", errors)
            spec["id"] = "/schema-apps/" + spec["id"].strip("/").replace("/", "-")
            spec["instances"] = 0
            r = self.http.post(self.url + "/v2/apps", json=spec, timeout=10)
            if not check(r.status_code == 201, f"Pacer accepts apps/{name}", f"{r.status_code} {r.text}"):
                continue
            version = r.json()["version"]
            stored = self.get("/v2/apps" + spec["id"] + "/versions/" + version)
            # Marathon writes unset values as null in answers; its schema describes requests.
            stored = {k: v for k, v in stored.items() if v is not None}
            errors = [e.message for e in self.marathon_schema.iter_errors(
                {k: v for k, v in stored.items() if k not in ("role", "resourceLimits", "kind", "progressDeadlineSeconds", "autoRevert")})]
            check(not errors, f"apps/{name} as Pacer stores it validates against Marathon's schema", errors)
            self.http.delete(self.url + "/v2/apps" + spec["id"] + "?force=true", timeout=10)

    def refused(self, what, spec, field):
        r = self.http.post(self.url + "/v2/apps", json=spec, timeout=10)
        body = r.text
        named = field in body
        check(r.status_code == 422 and named, f"Pacer refuses {what} with 422 naming {field}", f"{r.status_code} {body}")
        if r.status_code == 201:
            self.http.delete(self.url + "/v2/apps" + spec["id"] + "?force=true", timeout=10)

    # -- 2. the example payloads ---------------------------------------------------------------

    def shapes(self):
        app = {"id": "/shapes/web", "cmd": "sleep 3600", "cpus": 0.01, "mem": 8, "instances": 2,
               "portDefinitions": [{"port": 0}]}
        events = []
        stream = self.http.get(self.url + "/v2/events", stream=True, timeout=30,
                               headers={"Accept": "text/event-stream"})
        reader = threading.Thread(target=self.read_events, args=(stream, events), daemon=True)
        reader.start()
        r = self.http.post(self.url + "/v2/apps", json=app, timeout=10)
        check(r.status_code == 201, "POST /v2/apps", r.text)
        deployments = self.get("/v2/deployments")
        if deployments:
            same_shape("GET /v2/deployments", self.load("deployments.json")[0], deployments[0])
            same_shape("a deployment's steps", self.load("deployment_steps.json"), deployments[0])
        eventually("two tasks run", lambda: self.get("/v2/apps/shapes/web")["app"]["tasksRunning"] == 2)
        apps = self.get("/v2/apps")["apps"]
        same_shape("GET /v2/apps", self.load("app_list.json"), {"apps": apps})
        tasks = self.get("/v2/apps/shapes/web/tasks")
        same_shape("GET /v2/apps/{id}/tasks", self.load("app_tasks.json"), tasks)
        same_shape("GET /v2/tasks", self.load("tasks.json"), self.get("/v2/tasks"))
        same_shape("GET /v2/info", self.load("info.json"), self.get("/v2/info"))
        r = self.http.put(self.url + "/v2/apps/shapes/web", json={"cmd": "sleep 3601"}, timeout=10)
        same_shape("PUT /v2/apps/{id}", self.load("deployments_result.json"), r.json())
        self.wait_deployments_done("/shapes/web")
        task = self.get("/v2/apps/shapes/web/tasks")["tasks"][0]
        r = self.http.delete(self.url + f"/v2/apps/shapes/web/tasks/{task['id']}", timeout=10)
        same_shape("DELETE /v2/apps/{id}/tasks/{taskId}", self.load("app_task.json"), r.json())
        # An app that can never be placed waits in the queue.
        r = self.http.post(self.url + "/v2/apps", json={"id": "/shapes/waiting", "cmd": "sleep 1", "cpus": 0.01, "mem": 8,
                                                         "constraints": [["hostname", "LIKE", "no-such-host"]]}, timeout=10)
        queue = eventually("the unplaceable app is queued", lambda: self.get("/v2/queue")["queue"])
        if queue:
            same_shape("GET /v2/queue", self.load("queue.json"), {"queue": queue})
        self.http.delete(self.url + "/v2/apps/shapes/waiting?force=true", timeout=10)
        self.wait_deployments_done("/shapes/web")
        same_shape("GET /v2/groups", self.load("group.json"), self.get("/v2/groups"))
        time.sleep(1)
        stream.close()
        examples = {}
        with open(os.path.join(self.fixtures, "events.txt")) as f:
            for line in f:
                if line.startswith("data: "):
                    e = json.loads(line[6:])
                    examples.setdefault(e["eventType"], e)
        seen = {}
        for e in events:
            seen.setdefault(e["eventType"], e)
        for kind, example in examples.items():
            if check(kind in seen, f"event stream sends {kind}", sorted(seen)):
                same_shape(f"event {kind}", example, seen[kind])
        pacer_only = {"instance_draining_event", "instance_ready_event", "deployment_stalled"}
        check(not pacer_only & set(seen), "a Marathon client's stream has no Pacer-only event types", sorted(pacer_only & set(seen)))
        self.http.delete(self.url + "/v2/apps/shapes/web?force=true", timeout=10)

    @staticmethod
    def read_events(stream, out):
        try:
            for line in stream.iter_lines(decode_unicode=True):
                if line and line.startswith("data: "):
                    out.append(json.loads(line[6:]))
        except Exception:
            pass  # closed

    # -- 3. the marathon client -----------------------------------------------------------------

    def client_flows(self):
        c = self.client
        check(c.ping().strip() in (b"pong", b'"pong"'), "ping")
        info = c.get_info()
        check(info.name and info.marathon_config is not None, "get_info")
        check("leader" in c.get_leader(), "get_leader")
        events = []
        stop = threading.Event()

        def follow():
            try:
                for e in c.event_stream(event_types=["status_update_event", "deployment_success"]):
                    events.append(e)
                    if stop.is_set():
                        return
            except Exception as e:
                events.append(e)
        threading.Thread(target=follow, daemon=True).start()

        app_id = "/compat/sleeper"
        created = c.create_app(app_id, MarathonApp(cmd="sleep 3600", cpus=0.01, mem=8, instances=1,
                                                   labels={"team": "compat"}))
        check(created and created.id == app_id, "create_app")
        eventually("one task runs", lambda: c.get_app(app_id).tasks_running == 1)
        check(any(a.id == app_id for a in c.list_apps()), "list_apps")
        listed = c.list_apps(embed_tasks=True)
        check(any(a.id == app_id and len(a.tasks) == 1 for a in listed), "list_apps(embed_tasks=True)")
        check(len(c.get_app(app_id, embed_tasks=True).tasks) == 1, "get_app(embed_tasks=True)")
        check(len(c.list_apps(app_id="compat")) == 1, "list_apps(app_id=…)")
        d = c.scale_app(app_id, instances=3)
        check("deploymentId" in d, "scale_app", d)
        check(isinstance(c.list_deployments(), list), "list_deployments")
        eventually("three run", lambda: c.get_app(app_id).tasks_running == 3 and not c.list_deployments())
        app = c.get_app(app_id)
        app.cmd = "sleep 3601"
        d = c.update_app(app_id, app)
        check("deploymentId" in d, "update_app (read, change, write back)", d)
        eventually("the update finishes", lambda: not c.list_deployments() and
                   all(t.version == c.get_app(app_id).version for t in c.list_tasks(app_id)) and c.get_app(app_id).tasks_running == 3)
        d = c.restart_app(app_id)
        check("deploymentId" in d, "restart_app", d)
        eventually("the restart finishes", lambda: not c.list_deployments() and c.get_app(app_id).tasks_running == 3)
        versions = c.list_versions(app_id)
        check(len(versions) >= 2, "list_versions", versions)
        check(c.get_version(app_id, versions[0]).id == app_id, "get_version")
        tasks = c.list_tasks(app_id)
        check(len(tasks) == 3 and all(t.app_id == app_id for t in tasks), "list_tasks(app)")
        check(any(t.app_id == app_id for t in c.list_tasks()), "list_tasks()")
        killed = c.kill_task(app_id, tasks[0].id)
        check(getattr(killed, "id", None) == tasks[0].id, "kill_task (replaced)", killed)
        eventually("replaced", lambda: c.get_app(app_id).tasks_running == 3 and tasks[0].id not in [t.id for t in c.list_tasks(app_id)])
        d = c.kill_task(app_id, c.list_tasks(app_id)[0].id, scale=True)
        check(isinstance(d, dict) and "deploymentId" in d, "kill_task(scale=True)", d)
        eventually("scaled to two", lambda: c.get_app(app_id).instances == 2 and c.get_app(app_id).tasks_running == 2
                   and len(c.list_tasks(app_id)) == 2)
        gone = c.list_tasks(app_id)[0].id
        check(c.kill_given_tasks([gone]), "kill_given_tasks")
        # As in Marathon, a killed task stays listed until its agent reports it gone: wait for that,
        # or kill_tasks below also kills the leaving one.
        eventually("replaced again", lambda: len(c.list_tasks(app_id)) == 2 and c.get_app(app_id).tasks_running == 2
                   and gone not in [t.id for t in c.list_tasks(app_id)] and not c.list_deployments())
        killed = c.kill_tasks(app_id)
        check(isinstance(killed, list) and len(killed) == 2, "kill_tasks (all, replaced)", killed)
        eventually("two run again", lambda: c.get_app(app_id).tasks_running == 2)
        check(isinstance(c.list_queue(), list), "list_queue (empty)")
        hook = "http://127.0.0.1:9/compat-hook"
        c.create_event_subscription(hook)
        check(hook in c.list_event_subscriptions(), "create/list_event_subscriptions")
        c.delete_event_subscription(hook)
        check(hook not in c.list_event_subscriptions(), "delete_event_subscription")
        # A deployment that cannot finish, cancelled (rolled back) by delete_deployment.
        stuck = c.update_app(app_id, MarathonApp(constraints=[["hostname", "LIKE", "no-such-host"]]), force=True)
        check("deploymentId" in stuck, "update_app to an unplaceable spec", stuck)
        check(any(d.id == stuck["deploymentId"] for d in c.list_deployments()), "the stuck deployment is listed")
        queued = eventually("it waits in the queue", lambda: c.list_queue())
        check(bool(queued), "list_queue (waiting)", "see the note in docs/API.md on `role`")
        rollback = c.delete_deployment(stuck["deploymentId"])
        check("deploymentId" in rollback, "delete_deployment (rolls back)", rollback)
        eventually("rolled back", lambda: not c.list_deployments() and c.get_app(app_id).tasks_running == 2, within=40)
        d = c.delete_app(app_id)
        check("deploymentId" in d, "delete_app", d)
        eventually("gone", lambda: all(a.id != app_id for a in c.list_apps()))
        self.group_flows()
        stop.set()
        updates = [e for e in events if isinstance(e, MarathonStatusUpdateEvent)]
        errors = [e for e in events if isinstance(e, Exception)]
        check(updates and not errors, f"event_stream: {len(updates)} status updates parsed, no error", errors)

    def group_flows(self):
        c = self.client
        g = MarathonGroup(id="/compat-group", apps=[MarathonApp(id="/compat-group/db", cmd="sleep 3600", cpus=0.01, mem=8, instances=1)],
                          groups=[MarathonGroup(id="/compat-group/web", dependencies=["/compat-group/db"],
                                                apps=[MarathonApp(id="/compat-group/web/front", cmd="sleep 3600", cpus=0.01, mem=8,
                                                                  instances=2)])])
        d = c.create_group(g)
        check("deploymentId" in d, "create_group", d)
        plan = [x for x in c.list_deployments() if x.id == d["deploymentId"]]
        check(not plan or [s.actions[0].app for s in plan[0].steps] == ["/compat-group/db", "/compat-group/web/front"],
              "one deployment for the group, db before the app that depends on it", plan)
        eventually("the group runs", lambda: not c.list_deployments() and
                   c.get_app("/compat-group/web/front").tasks_running == 2 and c.get_app("/compat-group/db").tasks_running == 1)
        check(any(x.id == "/compat-group" for x in c.list_groups()), "list_groups")
        got = c.get_group("/compat-group")
        check(len(got.apps) == 1 and len(got.groups) == 1 and got.groups[0].dependencies == ["/compat-group/db"], "get_group")
        d = c.scale_group("/compat-group", 2)
        check("deploymentId" in d, "scale_group", d)
        eventually("scaled", lambda: not c.list_deployments() and c.get_app("/compat-group/web/front").tasks_running == 4)
        versions = eventually("versions listed", lambda: self.get("/v2/groups/compat-group/versions"))
        d = c.rollback_group("/compat-group", versions[-1])
        check("deploymentId" in d, "rollback_group", d)
        eventually("rolled back", lambda: not c.list_deployments() and c.get_app("/compat-group/web/front").instances == 2)
        got = c.get_group("/compat-group")
        got.apps[0].instances = 3
        d = c.update_group("/compat-group", got)
        check("deploymentId" in d, "update_group (read, change, write back)", d)
        eventually("updated", lambda: not c.list_deployments() and c.get_app("/compat-group/db").tasks_running == 3)
        # The client's minimal JSON drops empty lists, so replacing the subgroups with none is sent raw.
        r = self.http.put(self.url + "/v2/groups/compat-group", json={"groups": []}, timeout=10)
        check(r.ok and "deploymentId" in r.json(), "PUT a group without its subgroup", r.text)
        eventually("the subgroup is gone", lambda: not c.list_deployments() and
                   all(a.id != "/compat-group/web/front" for a in c.list_apps()))
        d = c.delete_group("/compat-group")
        check("deploymentId" in d, "delete_group", d)
        eventually("the group is gone", lambda: all(x.id != "/compat-group" for x in c.list_groups()))

    def cli_calls(self):
        """The calls the DC/OS CLI (`dcos marathon …`) makes, as raw HTTP: a second, independent client."""
        h = self.http
        app = {"id": "/cli/app", "cmd": "sleep 3600", "cpus": 0.01, "mem": 8, "instances": 1}
        r = h.post(self.url + "/v2/apps", json=app, timeout=10)
        check(r.status_code == 201 and r.headers.get("Location"), "dcos marathon app add", r.status_code)
        eventually("it runs", lambda: self.get("/v2/apps/cli/app")["app"]["tasksRunning"] == 1)
        r = h.get(self.url + "/v2/apps", params={"embed": ["apps.tasks", "apps.deployments", "apps.lastTaskFailure"]}, timeout=10)
        check(r.ok and r.json()["apps"], "dcos marathon app list", r.status_code)
        r = h.patch(self.url + "/v2/apps/cli/app", json={"instances": 2}, timeout=10)
        check(r.ok and "deploymentId" in r.json(), "dcos marathon app update (PATCH)", r.text)
        self.wait_deployments_done("/cli/app")
        r = h.get(self.url + "/v2/apps/cli/app/versions", timeout=10)
        check(r.ok and len(r.json()["versions"]) >= 2, "dcos marathon app version list", r.text)
        r = h.post(self.url + "/v2/apps/cli/app/restart", params={"force": "true"}, timeout=10)
        check(r.ok and "deploymentId" in r.json(), "dcos marathon app restart --force", r.text)
        self.wait_deployments_done("/cli/app")
        r = h.delete(self.url + "/v2/queue/cli/app/delay", timeout=10)
        check(r.status_code in (204, 404), "dcos marathon debug reset-delay", r.status_code)
        r = h.get(self.url + "/v2/tasks", headers={"Accept": "application/json"}, timeout=10)
        check(r.ok, "dcos marathon task list", r.status_code)
        r = h.delete(self.url + "/v2/apps/cli/app", timeout=10)
        check(r.ok and "deploymentId" in r.json(), "dcos marathon app remove", r.text)
        self.wait_deployments_done("/cli/app")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    # A cluster serving HTTPS with its own CA (the tests' clusters do): requests trusts it, and so
    # does the marathon client (credentials travel in the URL, as Marathon's clients take them).
    ap.add_argument("--ca")
    ap.add_argument("--fixtures", required=True)
    ap.add_argument("--only", choices=["schema", "shapes", "client", "cli"])
    args = ap.parse_args()
    if args.ca:
        os.environ["REQUESTS_CA_BUNDLE"] = args.ca
    compat = Compat(args.url, args.fixtures)
    for name, part in [("schema", compat.schema), ("shapes", compat.shapes), ("client", compat.client_flows), ("cli", compat.cli_calls)]:
        if args.only and args.only != name:
            continue
        print(f"== {name}")
        try:
            part()
        except Exception as e:  # a crash in one part fails it; the others still run
            import traceback
            traceback.print_exc()
            check(False, f"{name} ran to the end", repr(e))
    print(f"{len(FAILURES)} failed" + (": " + "; ".join(FAILURES) if FAILURES else ""))
    sys.exit(1 if FAILURES else 0)


if __name__ == "__main__":
    main()
