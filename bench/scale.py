#!/usr/bin/env python3
"""Control-plane scale benchmark (issue 12): master + framework + one `pacer lb` + N simulated
agents (`pacer agent --simulate N`), all on this machine, against the release binary.

For each N: time to register every agent; placing 25 x N tasks over min(1000, N) apps (tasks/s)
while GET /v2/apps, GET /v2/apps?embed=apps.tasks, GET /v2/tasks, POST /v2/apps and a scale PUT are
timed; how long a task change takes to reach the load balancer's table; killing every task
(tasks/s); RSS, CPU-seconds and descriptors of master, framework and LB; the master's CPU with
heartbeats only. Prints one markdown table (see README, "Scale").

Usage: bench/scale.py [--agents 100,800,2000] [--store sqlite|etcd] [--bin .build/release/pacer]
Not part of `make test`: timings belong here, not in test assertions.
"""
import argparse, http.client, json, os, shutil, signal, socket, statistics, subprocess, sys, tempfile, threading, time

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

class Client:
    """One keep-alive HTTP connection (per thread)."""
    def __init__(self, port, timeout=60):
        self.port, self.timeout, self.conn = port, timeout, None
    def call(self, method, path, body=None):
        for attempt in range(2):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
                headers = {"Content-Type": "application/json"} if body is not None else {}
                self.conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
                r = self.conn.getresponse()
                return r.status, r.read()
            except (OSError, http.client.HTTPException):
                self.conn = None
                if attempt == 1:
                    raise
    def json(self, method, path, body=None):
        status, data = self.call(method, path, body)
        return status, (json.loads(data) if data else None)

def timed(fn):
    t = time.monotonic()
    fn()
    return time.monotonic() - t

def per_app_by_clients(port, apps, fn, clients=4):
    """Calls fn(client, app) for every app number, apps shared out among `clients` threads each
    with its own connection."""
    def run(k):
        c = Client(port)
        for a in range(k, apps, clients):
            fn(c, a)
    threads = [threading.Thread(target=run, args=(k,)) for k in range(clients)]
    for t in threads: t.start()
    for t in threads: t.join()

def pct(xs, p):
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]

def metric(port, name, labels=None):
    """Sum of a Prometheus metric's samples (optionally only those whose labels contain `labels`)."""
    status, text = Client(port, 10).call("GET", "/metrics")
    total = 0.0
    for line in text.decode().splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        key, _, value = line.rpartition(" ")
        if key.split("{")[0] != name or (labels and labels not in key):
            continue
        total += float(value)
    return total

class Proc:
    def __init__(self, name, args, logdir, env=None):
        self.name = name
        self.log = open(os.path.join(logdir, name + ".log"), "w")
        self.p = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})
    def cpu(self):
        with open(f"/proc/{self.p.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    def rss_mib(self):
        with open(f"/proc/{self.p.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        return 0
    def fds(self):
        return len(os.listdir(f"/proc/{self.p.pid}/fd"))
    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(15)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()

def wait_until(what, seconds, fn, step=0.05):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if fn():
                return True
        except (OSError, http.client.HTTPException, ValueError):
            pass
        time.sleep(step)
    print(f"  timed out after {seconds} s waiting for {what}", file=sys.stderr)
    return False

class Sampler(threading.Thread):
    """Times API calls while placement runs: one round of them every `period` seconds (the next
    round at once when one takes longer), as dashboards and load balancers poll. A round right after
    the last (as before 2026-12-02) kept a read of 50,000 tasks always in flight: the framework's
    CPU went to that one client however cheap reads became, and placement was measured against it."""
    def __init__(self, port, calls, period=1.0):
        super().__init__(daemon=True)
        self.port, self.calls, self.period, self.stop_flag = port, calls, period, threading.Event()
        self.samples = {name: [] for name, _, _, _ in calls}
    def run(self):
        c = Client(self.port)
        i = 0
        while not self.stop_flag.is_set():
            started = time.monotonic()
            for name, method, path, body in self.calls:
                b = body(i) if callable(body) else body
                t = time.monotonic()
                status, _ = c.call(method, path, b)
                if status < 500:
                    self.samples[name].append(time.monotonic() - t)
            i += 1
            self.stop_flag.wait(max(0.0, self.period - (time.monotonic() - started)))

def run(n, args, root):
    logdir = tempfile.mkdtemp(prefix=f"pacer-scale-{n}-", dir=root)
    mport, fport, sport, lbadmin = free_port(), free_port(), free_port(), free_port()
    procs = []
    etcd = None
    try:
        store = f"sqlite:{logdir}/framework.sqlite"
        if args.store == "etcd":
            cport, pport = free_port(), free_port()
            etcd = Proc("etcd", ["etcd", "--data-dir", f"{logdir}/etcd", "--listen-client-urls", f"http://127.0.0.1:{cport}",
                                 "--advertise-client-urls", f"http://127.0.0.1:{cport}", "--listen-peer-urls", f"http://127.0.0.1:{pport}",
                                 "--initial-advertise-peer-urls", f"http://127.0.0.1:{pport}",
                                 "--initial-cluster", f"default=http://127.0.0.1:{pport}", "--max-txn-ops", "100000",
                                 "--max-request-bytes", str(64 << 20), "--quota-backend-bytes", str(8 << 30)], logdir)
            store = f"etcd://127.0.0.1:{cport}"
            wait_until("etcd", 20, lambda: Client(cport, 2).call("GET", "/health")[0] == 200)
        # With etcd: two masters and two framework replicas, so failover can be measured too.
        ha = args.store == "etcd"
        mports = [mport] + ([free_port()] if ha else [])
        fports = [fport] + ([free_port()] if ha else [])
        masters_url = ",".join(f"http://127.0.0.1:{p}" for p in mports)
        masters = [Proc(f"master-{p}", [args.bin, "master", "--port", str(p), "--state-dir", f"{logdir}/m{p}", "--log-level", "warning"]
                        + (["--store", store] if ha else []), logdir) for p in mports]
        frameworks = [Proc(f"framework-{p}", [args.bin, "framework", "--port", str(p), "--master", masters_url,
                                               "--state-dir", f"{logdir}/f{p}", "--store", store, "--log-level", "warning"], logdir)
                      for p in fports]
        procs += masters + frameworks
        master, framework = masters[0], frameworks[0]
        if ha:
            mport = leading_master(mports)
            fport = leading_framework(fports)
            master = masters[mports.index(mport)]
            framework = frameworks[fports.index(fport)]
        with open(f"{logdir}/lb.yaml", "w") as f:
            f.write(f"bind: 127.0.0.1\nframeworks: [{', '.join(f'http://127.0.0.1:{p}' for p in fports)}]\nadmin_port: {lbadmin}\n"
                    f"http_port: 0\nworkers: 2\nname: bench-lb\n")
        lb = Proc("lb", [args.bin, "lb", "--config", f"{logdir}/lb.yaml", "--log-level", "warning"], logdir)
        procs.append(lb)
        api = Client(fport)
        wait_until("the framework", 30, lambda: api.call("GET", "/ping")[0] == 200)
        wait_until("the load balancer", 30, lambda: Client(lbadmin, 2).call("GET", "/healthz")[0] == 200)

        # 1. Registration storm: every simulated agent registers at once.
        start = time.monotonic()
        # With etcd the agents follow the masters' election, as Mesos agents follow ZooKeeper.
        election = ["--master-election", store] if ha else []
        fleet = Proc("agents", [args.bin, "agent", "--simulate", str(n), "--port", str(sport), "--master", masters_url,
                                "--cpus", "8", "--mem", "32768", "--ports", "31000-31999", "--log-level", "warning"] + election,
                     logdir)
        procs.append(fleet)
        registered = wait_until(f"{n} agents", 120, lambda: metric(mport, "pacer_agents", 'reachable="true"') >= n, step=0.1)
        t_register = time.monotonic() - start if registered else float("nan")

        # 2. Placement of 25 x N tasks over A apps, with the API timed meanwhile.
        apps = min(args.apps, n)
        total = args.tasks_per_agent * n
        per_app = total // apps
        total = per_app * apps
        _, probe = api.json("POST", "/v2/apps", {"id": "/probe", "cmd": "sleep 3600", "instances": 1, "cpus": 0.01, "mem": 8,
                                                 "portDefinitions": [{"port": 0}]})
        wait_until("the probe app", 60, lambda: api.json("GET", "/v2/apps/probe")[1]["app"]["tasksRunning"] == 1)
        sampler = Sampler(fport, [
            ("GET /v2/apps", "GET", "/v2/apps", None),
            ("GET /v2/apps?embed=apps.tasks", "GET", "/v2/apps?embed=apps.tasks", None),
            ("GET /v2/tasks", "GET", "/v2/tasks", None),
            ("PUT scale", "PUT", "/v2/apps/probe?force=true", lambda i: {"instances": 1 + i % 2}),
        ], args.sample_period)
        posts = []
        # What placement asked of the master: offers the framework had to answer, REVIVEs it sent.
        offers0, revives0 = metric(fport, "pacer_offers_received_total"), metric(fport, "pacer_revives_total")
        start = time.monotonic()
        sampler.start()
        def post(c, a):
            spec = {"id": f"/bench/app-{a:04d}", "cmd": "sleep 3600", "instances": per_app, "cpus": 0.01, "mem": 8,
                    "portDefinitions": [{"port": 0}], "labels": {"HAPROXY_GROUP": "external"}}
            posts.append(timed(lambda: c.call("POST", "/v2/apps", spec)))
        per_app_by_clients(fport, apps, post)
        t_posted = time.monotonic() - start
        placed = wait_until(f"{total} tasks running", args.timeout,
                            lambda: metric(fport, "pacer_tasks", 'state="TASK_RUNNING"') >= total + 1, step=0.2)
        t_place = time.monotonic() - start if placed else float("nan")
        sampler.stop_flag.set()
        sampler.join()
        offers_placing = metric(fport, "pacer_offers_received_total") - offers0
        revives_placing = metric(fport, "pacer_revives_total") - revives0
        running = metric(fport, "pacer_tasks", 'state="TASK_RUNNING"') - 1
        # Exactness: bench apps running more tasks than their instances, or fewer (a duplicate or
        # a lost task would show here; the probe app is left out, the sampler scales it).
        _, listed = api.json("GET", "/v2/apps")
        bench_apps = [a for a in listed["apps"] if a["id"].startswith("/bench/")]
        surplus = sum(max(0, a["tasksRunning"] - a["instances"]) for a in bench_apps)
        missing = sum(max(0, a["instances"] - a["tasksRunning"]) for a in bench_apps)

        # 3. Heartbeats only: the master's CPU over 20 s of quiet.
        time.sleep(3)
        c0, t0 = master.cpu(), time.monotonic()
        time.sleep(20)
        idle_cpu = (master.cpu() - c0) / (time.monotonic() - t0)
        # The simulated fleet too: it shares the machine, so its CPU is CPU the control plane did not get.
        sizes = {name: (p.rss_mib(), p.cpu(), p.fds()) for name, p in (("master", master), ("framework", framework), ("lb", lb), ("agents", fleet))}
        if ha:
            # What HA costs beside the leader: the following framework replica (its warm copy
            # follows every write) and etcd itself.
            follower = [f for f in frameworks if f is not framework][0]
            sizes["follower"] = (follower.rss_mib(), follower.cpu(), follower.fds())
            sizes["etcd"] = (etcd.rss_mib(), etcd.cpu(), etcd.fds())
        ever_unreachable = metric(mport, "pacer_agents_marked_unreachable_total")

        # 4. A task change reaching the load balancer: the probe scaled up and down.
        lb_up, lb_down = lb_propagation(api, lbadmin, probe, args.samples)

        # 5. Churn: tasks killed (and so replaced) at --churn-rate a second for --churn seconds;
        # the memory of master and framework before, at the peak, after.
        churn = {}
        if args.churn > 0:
            print(f"  churn: {args.churn:.0f} s from now (master pid {master.p.pid}, framework pid {framework.p.pid})",
                  file=sys.stderr, flush=True)
            churn = run_churn(api, master, framework, args, apps)

        # 6. Failover (etcd only): the leading framework replica, then the leading master, killed.
        failover = {}
        if ha:
            failover = run_failover(api, frameworks, fports, masters, mports, fport, mport, n, running)
            fport = [p for p in fports if p != fport][0]
            api = Client(fport)

        # 7. Kills: every bench app removed.
        # By four clients, as the apps were posted: one DELETE at a time measured one client's
        # round trips (at 2,000 agents on a slow machine the 1,000 answers took 29 of the 32 s).
        deletes = []
        start = time.monotonic()
        per_app_by_clients(fport, apps, lambda c, a: deletes.append(
            timed(lambda: c.call("DELETE", f"/v2/apps/bench/app-{a:04d}?force=true"))))
        t_deletes = time.monotonic() - start
        killed = wait_until("every task gone", args.timeout, lambda: metric(fport, "pacer_tasks") <= 2, step=0.2)
        t_kill = time.monotonic() - start if killed else float("nan")

        row = {
            "agents": n, "register_s": t_register, "tasks": int(running), "surplus": surplus, "missing": missing, "place_s": t_place, "place_rate": running / t_place if placed else 0,
            "kill_s": t_kill, "deletes_s": t_deletes, "delete_p50": pct(deletes, 50), "delete_p99": pct(deletes, 99), "kill_rate": total / t_kill if killed else 0, "post_p50": pct(posts, 50), "post_p99": pct(posts, 99),
            "posts_s": t_posted, "offers_placing": offers_placing, "revives_placing": revives_placing,
            **{k + "_p50": pct(v, 50) for k, v in sampler.samples.items()}, **{k + "_p99": pct(v, 99) for k, v in sampler.samples.items()},
            **{k + "_n": len(v) for k, v in sampler.samples.items()},
            "lb_up_p50": pct(lb_up, 50), "lb_up_p99": pct(lb_up, 99), "lb_down_p50": pct(lb_down, 50), "lb_down_p99": pct(lb_down, 99),
            "idle_cpu": idle_cpu, "unreachable": ever_unreachable,
            **{f"{name}_{what}": v for name, (rss, cpu, fds) in sizes.items() for what, v in (("rss", rss), ("cpu", cpu), ("fds", fds))},
            **churn, **failover,
        }
        return row
    finally:
        for p in reversed(procs):
            p.stop()
        if etcd:
            etcd.stop()
        if not args.keep:
            shutil.rmtree(logdir, ignore_errors=True)

def leader_of(ports, path, key):
    def who():
        for p in ports:
            try:
                status, body = Client(p, 2).json("GET", path)
                if status == 200 and body.get(key):
                    return body
            except (OSError, http.client.HTTPException, ValueError):
                pass
        return None
    return who

def leading(ports, what, path, leads):
    """The port of the replica that answers `path` saying it leads (`leads(port, body)`)."""
    found = {}
    def probe():
        for p in ports:
            try:
                status, body = Client(p, 2).json("GET", path)
                if status == 200 and leads(p, body):
                    found["port"] = p
                    return True
            except (OSError, http.client.HTTPException, ValueError):
                pass
        return False
    wait_until(what, 30, probe)
    return found["port"]

def leading_master(ports):
    return leading(ports, "a leading master", "/master/leader", lambda p, body: body.get("leading"))

def leading_framework(ports):
    return leading(ports, "a leading framework replica", "/v2/leader", lambda p, body: body.get("leader", "").endswith(f":{p}"))

def run_churn(api, master, framework, args, apps):
    """Kills `churn_rate` random tasks a second (each replaced: as many launches) for `churn` s."""
    import random
    rng = random.Random(1)
    rss = {"master": [master.rss_mib()], "framework": [framework.rss_mib()]}
    killed = 0
    # Tasks between a kill and their replacement running: what the control plane has not worked
    # off yet. It stays bounded while the churn is carried; after the churn it must drain.
    def backlog():
        # One read of /metrics a sample: the bench must not be what loads the framework.
        text = Client(api.port, 10).call("GET", "/metrics")[1].decode()
        return sum(float(line.rpartition(" ")[2]) for line in text.splitlines()
                   if line.startswith("pacer_tasks{") and any(f'"{s}"' in line for s in ("TASK_STAGING", "TASK_STARTING", "TASK_KILLING")))
    backlogs = []
    end = time.monotonic() + args.churn
    while time.monotonic() < end:
        tick = time.monotonic()
        ids = []
        for a in rng.sample(range(apps), min(apps, max(1, args.churn_rate // 10))):
            status, body = api.json("GET", f"/v2/apps/bench/app-{a:04d}/tasks")
            running = [t["id"] for t in (body or {}).get("tasks", []) if t["state"] == "TASK_RUNNING"]
            ids += rng.sample(running, min(len(running), 10))
        if ids:
            api.call("POST", "/v2/tasks/delete", {"ids": ids[: args.churn_rate]})
            killed += len(ids[: args.churn_rate])
        rss["master"].append(master.rss_mib())
        rss["framework"].append(framework.rss_mib())
        backlogs.append(backlog())
        time.sleep(max(0, 1 - (time.monotonic() - tick)))
    stopped = time.monotonic()
    drained = wait_until("the churn's backlog worked off", 600, lambda: backlog() == 0, step=1)
    return {"churn_s": args.churn, "churn_killed": killed, "churn_backlog_max": max(backlogs, default=0),
            "churn_backlog_end": backlogs[-1] if backlogs else 0, "churn_drain_s": time.monotonic() - stopped if drained else float("nan"),
            **{f"churn_{k}_rss_start": v[0] for k, v in rss.items()}, **{f"churn_{k}_rss_max": max(v) for k, v in rss.items()},
            **{f"churn_{k}_rss_end": v[-1] for k, v in rss.items()}}

def run_failover(api, frameworks, fports, masters, mports, fport, mport, n, running):
    """Kills the leading framework replica, then the leading master; seconds until the API answers
    again, and until every agent is back on the new master; tasks before and after."""
    out = {}
    def task_ids(port):
        status, body = Client(port, 60).json("GET", "/v2/tasks")
        return {t["id"] for t in body["tasks"] if t["state"] == "TASK_RUNNING"}
    before = task_ids(fport)
    survivor = [p for p in fports if p != fport][0]
    frameworks[fports.index(fport)].p.kill()
    t0 = time.monotonic()
    wait_until("the API to answer again", 60, lambda: Client(survivor, 2).call("GET", "/v2/apps?id=probe")[0] == 200, step=0.02)
    out["failover_framework_s"] = time.monotonic() - t0
    # Of that, the new leader's reading of its state (the rest: the lease running out, the election).
    out["failover_framework_load_s"] = metric(survivor, "pacer_state_load_seconds")
    out["failover_framework_load_read"] = "warm" if 'pacer_state_load_seconds{read="warm"}' in Client(survivor, 10).call("GET", "/metrics")[1].decode() else "full"
    new_master = [p for p in mports if p != mport][0]
    masters[mports.index(mport)].p.kill()
    t0 = time.monotonic()
    leading_master([new_master])
    out["failover_master_leads_s"] = time.monotonic() - t0
    # When a quarter, half, nine tenths and all of the agents were back: a long tail is agents
    # backing off, a late start is the master busy taking over.
    marks = {}
    def back():
        count = metric(new_master, "pacer_agents", 'reachable="true"')
        for share in (0.25, 0.5, 0.9, 1.0):
            if count >= share * n and share not in marks:
                marks[share] = time.monotonic() - t0
        return count >= n
    wait_until("every agent on the new master", 120, back, step=0.1)
    out["failover_master_agents_s"] = time.monotonic() - t0
    out["failover_master_agents_marks"] = " / ".join(f"{marks[k]:.1f}" for k in sorted(marks))
    # Registrations the new master answered 504 unprocessed: their agents had given up and sent another.
    out["failover_master_expired"] = metric(new_master, "pacer_http_requests_expired_total")
    time.sleep(5)
    after = task_ids(survivor)
    out["failover_tasks_kept"] = len(before & after)
    out["failover_tasks_changed"] = len(before ^ after)
    return out

def lb_propagation(api, lbadmin, probe, samples):
    """Seconds from a probe task's TASK_RUNNING (as the event stream tells it) to its backend in the
    LB's table, and from its draining to its removal there."""
    service = probe["portDefinitions"][0]["port"]
    lbc = Client(lbadmin, 10)
    seen = {}
    def routed(backend, present):
        """Whether every LB worker runs a table with (or without) `backend`: the table version that
        first showed the change, reached by the slowest worker."""
        status, body = lbc.json("GET", f"/stats?service={service}")
        now = backend in {b for s in body["services"] if s["port"] == service for b in s["backends"]}
        if now == present and (backend, present) not in seen:
            seen[(backend, present)] = body["version"]
        v = seen.get((backend, present))
        return v is not None and body["workersVersion"] >= v
    up, down = [], []
    # The sampler left the probe at 1 or 2 instances: back to 1 first.
    api.call("PUT", "/v2/apps/probe?force=true", {"instances": 1})
    wait_until("the probe at 1", 60, lambda: len(api.json("GET", "/v2/apps/probe/tasks")[1]["tasks"]) == 1)
    for i in range(samples):
        before = {t["id"] for t in api.json("GET", "/v2/apps/probe/tasks")[1]["tasks"]}
        api.call("PUT", "/v2/apps/probe?force=true", {"instances": 2})
        new = None
        def running():
            nonlocal new
            tasks = api.json("GET", "/v2/apps/probe/tasks")[1]["tasks"]
            fresh = [t for t in tasks if t["id"] not in before and t["state"] == "TASK_RUNNING"]
            if fresh:
                new = (fresh[0]["id"], f"{fresh[0]['host']}:{fresh[0]['ports'][0]}")
            return new is not None
        if not wait_until("the probe's new task", 30, running, step=0.002):
            continue
        t0 = time.monotonic()
        if wait_until("the LB to route to it", 30, lambda: routed(new[1], True), step=0.002):
            up.append(time.monotonic() - t0)
        api.call("DELETE", f"/v2/apps/probe/tasks/{new[0]}?scale=true")
        t0 = time.monotonic()
        if wait_until("the LB to drop it", 30, lambda: routed(new[1], False), step=0.002):
            down.append(time.monotonic() - t0)
        wait_until("the probe back at 1", 30, lambda: len(api.json("GET", "/v2/apps/probe/tasks")[1]["tasks"]) == 1)
    return up, down

def fmt(x, unit="", digits=1):
    if x != x:  # NaN
        return "—"
    return f"{x:,.{digits}f}{unit}"

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--agents", default="100,800,2000")
    ap.add_argument("--tasks-per-agent", type=int, default=25)
    ap.add_argument("--apps", type=int, default=1000)
    ap.add_argument("--store", choices=["sqlite", "etcd"], default="sqlite")
    ap.add_argument("--bin", default=".build/release/pacer")
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--samples", type=int, default=20, help="LB propagation samples")
    ap.add_argument("--sample-period", type=float, default=1.0,
                    help="seconds between rounds of timed API calls while placing (0: back to back, as before 2026-12-02)")
    ap.add_argument("--keep", action="store_true", help="keep logs and state")
    ap.add_argument("--json", help="also write the rows here")
    ap.add_argument("--churn", type=float, default=60, help="seconds of churn (kills and replacements); 0: none")
    ap.add_argument("--churn-rate", type=int, default=200, help="tasks killed (and replaced) a second during churn")
    args = ap.parse_args()
    root = tempfile.mkdtemp(prefix="pacer-scale-")
    rows = []
    for n in [int(x) for x in args.agents.split(",")]:
        print(f"N={n} …", file=sys.stderr, flush=True)
        row = run(n, args, root)
        rows.append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    ms = lambda x: fmt(x * 1000, " ms", 0)
    print(f"\nstore: {args.store}; machine: {os.cpu_count()} cores, {os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') >> 30} GiB\n")
    print("| agents | register all | tasks | place (tasks/s) | kill (tasks/s) | POST /v2/apps p50/p99 | GET /v2/apps p50/p99 | embed=apps.tasks p50/p99 | GET /v2/tasks p50/p99 | scale PUT p50/p99 | to LB p50/p99 | drain to LB p50/p99 |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['agents']:,} | {fmt(r['register_s'], ' s')} | {r['tasks']:,} | {fmt(r['place_s'], ' s')} ({fmt(r['place_rate'], '', 0)}) "
              f"| {fmt(r['kill_s'], ' s')} ({fmt(r['kill_rate'], '', 0)}) | {ms(r['post_p50'])} / {ms(r['post_p99'])} "
              f"| {ms(r['GET /v2/apps_p50'])} / {ms(r['GET /v2/apps_p99'])} | {ms(r['GET /v2/apps?embed=apps.tasks_p50'])} / {ms(r['GET /v2/apps?embed=apps.tasks_p99'])} "
              f"| {ms(r['GET /v2/tasks_p50'])} / {ms(r['GET /v2/tasks_p99'])} | {ms(r['PUT scale_p50'])} / {ms(r['PUT scale_p99'])} "
              f"| {ms(r['lb_up_p50'])} / {ms(r['lb_up_p99'])} | {ms(r['lb_down_p50'])} / {ms(r['lb_down_p99'])} |")
    print("\n| agents | master RSS / CPU-s / fds | framework RSS / CPU-s / fds | LB RSS / CPU-s / fds | master CPU, heartbeats only | agents ever unreachable | tasks over / under instances | offers / REVIVEs while placing |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        part = lambda p: f"{fmt(r[p + '_rss'], ' MiB', 0)} / {fmt(r[p + '_cpu'], ' s', 0)} / {r[p + '_fds']}"
        print(f"| {r['agents']:,} | {part('master')} | {part('framework')} | {part('lb')} | {fmt(r['idle_cpu'] * 100, ' % of a core')} | {int(r['unreachable'])} | {r['surplus']} / {r['missing']} | {r['offers_placing']:,.0f} / {r['revives_placing']:,.0f} |")
    if any("churn_s" in r for r in rows):
        print("\n| agents | churn | tasks killed and replaced | backlog peak / at the end / worked off after | master RSS start / peak / end | framework RSS start / peak / end |")
        print("|---|---|---|---|---|---|")
        for r in rows:
            if "churn_s" in r:
                mem = lambda p: f"{fmt(r[f'churn_{p}_rss_start'], '', 0)} / {fmt(r[f'churn_{p}_rss_max'], '', 0)} / {fmt(r[f'churn_{p}_rss_end'], ' MiB', 0)}"
                print(f"| {r['agents']:,} | {fmt(r['churn_s'], ' s', 0)} | {r['churn_killed']:,} "
                      f"| {r['churn_backlog_max']:,.0f} / {r['churn_backlog_end']:,.0f} / {fmt(r['churn_drain_s'], ' s', 0)} "
                      f"| {mem('master')} | {mem('framework')} |")
    if any("failover_framework_s" in r for r in rows):
        print("\n| agents | framework leader kill -9: API again (of which reading the state) | master leader kill -9: leads / 25 %, 50 %, 90 %, all agents back (requests expired) | running tasks kept / changed | framework follower RSS / CPU-s | etcd RSS / CPU-s |")
        print("|---|---|---|---|---|---|")
        for r in rows:
            if "failover_framework_s" in r:
                print(f"| {r['agents']:,} | {fmt(r['failover_framework_s'], ' s')} ({fmt(r['failover_framework_load_s'], ' s', 2)}, "
                      f"{r['failover_framework_load_read']}) | {fmt(r.get('failover_master_leads_s', float('nan')), ' s')} / "
                      f"{r.get('failover_master_agents_marks', '')} s ({r.get('failover_master_expired', 0):,.0f}) "
                      f"| {r['failover_tasks_kept']:,} / {r['failover_tasks_changed']} "
                      f"| {fmt(r.get('follower_rss', float('nan')), ' MiB', 0)} / {fmt(r.get('follower_cpu', float('nan')), ' s', 0)} "
                      f"| {fmt(r.get('etcd_rss', float('nan')), ' MiB', 0)} / {fmt(r.get('etcd_cpu', float('nan')), ' s', 0)} |")

if __name__ == "__main__":
    main()
