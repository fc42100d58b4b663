#!/usr/bin/python3
"""Drives Pacer's web console in a real headless Chromium (Debian's chromium + chromium-driver,
python3-selenium): deploys an app through the console, watches its health bar fill, scales it,
reads and follows a task's log, rolls back a deployment that never gets healthy, reads why a
deployment waits, and saves screenshots of the main views. Fails on any JavaScript error.

Run by ConsoleBrowserTests against a `pacer up` cluster:
  console_browser.py --url http://127.0.0.1:PORT --screenshots DIR
"""
import argparse
import json
import os
import re
import sys
import time
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.by import By

CHECKS = []
DRIVER = None


def check(ok, what, detail=""):
    print(("ok   " if ok else "FAIL ") + what + ("" if ok or not detail else ": " + str(detail)[:800]), flush=True)
    CHECKS.append((what, ok))
    return ok


def wait(what, predicate, timeout=45, interval=0.5):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            value = predicate()
            if value:
                return check(True, what) and value
        except Exception as e:  # noqa: BLE001 - a page between two renders
            last = e
        time.sleep(interval)
    check(False, what, f"not within {timeout} s; last error: {last}")
    if DRIVER:
        print("page:", DRIVER.current_url)
        try:
            print(DRIVER.find_element(By.TAG_NAME, "main").text[:1500])
        except Exception:  # noqa: BLE001
            pass
        for entry in DRIVER.get_log("browser"):
            print("browser:", entry.get("level"), entry.get("message"))
    raise SystemExit(1)


def api(base, path):
    with urllib.request.urlopen(base + path, timeout=5) as r:
        return json.loads(r.read())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--screenshots", required=True)
    args = ap.parse_args()
    base = args.url.rstrip("/")
    os.makedirs(args.screenshots, exist_ok=True)

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,900"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    global DRIVER
    DRIVER = driver
    driver.set_page_load_timeout(60)
    errors = []

    def go(url):
        # A loaded machine (CI's two cores) can keep the renderer from answering in time once.
        for attempt in range(3):
            try:
                return driver.get(url)
            except TimeoutException:
                if attempt == 2:
                    raise
                print("  (page load timed out; again)", flush=True)

    def collect():
        for entry in driver.get_log("browser"):
            if entry.get("level") == "SEVERE":
                errors.append(entry.get("message"))

    def shot(name):
        driver.save_screenshot(os.path.join(args.screenshots, name + ".png"))

    try:
        # 1. The apps view answers and the deploy form is one click away.
        go(base + "/ui/")
        check("Apps" in driver.title, "the apps view opens", driver.title)
        driver.find_element(By.LINK_TEXT, "Deploy an app").click()
        wait("the deploy form opens", lambda: driver.find_element(By.ID, "spec"))

        # 2. Deploy through the console.
        spec = {
            "id": "/console/web",
            "cmd": "echo console-line-1; (i=0; while true; do i=$((i+1)); echo tick-$i; sleep 1; done) & "
                   "exec python3 -m http.server $PORT0 --directory /tmp",
            "instances": 1, "cpus": 0.05, "mem": 48, "labels": {"HAPROXY_0_MODE": "http"},
            "healthChecks": [{"protocol": "HTTP", "path": "/", "portIndex": 0, "intervalSeconds": 1,
                              "gracePeriodSeconds": 10, "delaySeconds": 0}],
        }
        area = driver.find_element(By.ID, "spec")
        area.clear()
        area.send_keys(json.dumps(spec))
        driver.find_element(By.CSS_SELECTOR, "form[data-action=deploy] button[type=submit]").click()
        wait("deploying goes to the app's page", lambda: "/ui/app?id=" in driver.current_url and "console/web" in driver.current_url)

        def bar_full(n):
            def full():
                healthy = driver.find_elements(By.CSS_SELECTOR, "svg.bar.wide rect.healthy")
                rows = driver.find_elements(By.CSS_SELECTOR, "tr[data-task]")
                return healthy and healthy[0].get_attribute("width") == "100.00" and len(rows) == n
            return full

        wait("the health bar fills (1 healthy of 1), updated live", bar_full(1), timeout=60)
        shot("app")

        # 3. Scale to 3 from the console.
        field = driver.find_element(By.CSS_SELECTOR, "form[data-action=scale] input[name=instances]")
        field.clear()
        field.send_keys("3")
        driver.find_element(By.CSS_SELECTOR, "form[data-action=scale] button").click()
        wait("scaled: 3 healthy tasks", bar_full(3), timeout=60)
        apps = api(base, "/v2/apps/console/web")["app"]
        check(apps["instances"] == 3, "the API says 3 instances", apps["instances"])

        # 3b. Traffic through the load balancer (HTTP mode: latency), per backend.
        service = api(base, "/v2/apps/console/web")["app"]["ports"][0]
        go(base + "/ui/traffic")
        # Requests are sent until 30 were answered (a deadline, not a count of tries).
        served, deadline = 0, time.time() + 30
        while served < 30 and time.time() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{service}/", timeout=2) as r:
                    served += r.status == 200
            except OSError:
                time.sleep(0.1)
        check(served >= 30, "requests through the load balancer", served)
        go(base + "/ui/traffic")
        wait("the traffic view shows the service's latency",
             lambda: "ms" in driver.find_element(By.TAG_NAME, "main").text and "/console/web" in driver.find_element(By.TAG_NAME, "main").text)
        wait("the traffic view lists each backend with its answers", lambda: len(driver.find_elements(By.CSS_SELECTOR, "tr.backend-row")) >= 3
             and "routed" in driver.find_element(By.CSS_SELECTOR, "tr.backend-row").text)
        shot("traffic")
        # 4. A task's log: the line it printed, then follow new lines.
        go(base + "/ui/")
        wait("the apps view lists the app", lambda: driver.find_element(By.CSS_SELECTOR, "tr[data-app='/console/web']"))
        shot("apps")
        task = api(base, "/v2/apps/console/web/tasks")["tasks"][0]["id"]
        go(base + "/ui/logs?task=" + task)
        wait("the task's stdout shows the line it printed", lambda: "console-line-1" in driver.find_element(By.ID, "log").text)
        before = driver.find_element(By.ID, "log").text.count("tick-")
        driver.find_element(By.ID, "follow").click()
        wait("following the log shows new lines", lambda: driver.find_element(By.ID, "log").text.count("tick-") >= before + 3, timeout=20)
        shot("logs")

        # 5. A version that never gets healthy, rolled back from the console.
        go(base + "/ui/app?id=/console/web")
        bad = dict(spec, instances=3)
        bad["healthChecks"] = [dict(spec["healthChecks"][0], path="/missing-" + str(int(time.time())))]
        area = wait("the spec editor", lambda: driver.find_element(By.ID, "spec"))
        area.clear()
        area.send_keys(json.dumps(bad))
        driver.find_element(By.CSS_SELECTOR, "form[data-action=deploy] button[type=submit]").click()
        wait("the failing deployment shows on the app's page",
             lambda: driver.find_elements(By.CSS_SELECTOR, "article.deployment button[data-action=rollback]"))
        go(base + "/ui/deployments")
        wait("the deployments view says why it waits",
             lambda: "not yet healthy" in driver.find_element(By.CSS_SELECTOR, "article.deployment .why").text)
        driver.find_element(By.CSS_SELECTOR, "article.deployment button[data-action=rollback]").click()
        wait("the rollback ends the deployment", lambda: api(base, "/v2/deployments") == [], timeout=60)
        # Any two versions compared: the bad one against the first.
        go(base + "/ui/app?id=/console/web")
        versions = [o.get_attribute("value") for o in driver.find_elements(By.CSS_SELECTOR, "select[name=from] option")]
        check(len(versions) >= 3, "every version is listed", versions)
        go(base + "/ui/app?id=/console/web&from=" + versions[0] + "&to=" + versions[1])
        wait("two versions' specs are compared line by line",
             lambda: "/missing-" in driver.find_element(By.CSS_SELECTOR, "pre.diff").text)
        path = api(base, "/v2/apps/console/web")["app"]["healthChecks"][0]["path"]
        check(path == "/", "the app is back at its healthy version", path)

        # 6. Why a deployment waits: a constraint no agent meets.
        go(base + "/ui/app?new=1")
        area = wait("the deploy form", lambda: driver.find_element(By.ID, "spec"))
        area.clear()
        area.send_keys(json.dumps({"id": "/console/stuck", "cmd": "sleep 3600", "cpus": 0.01, "mem": 8,
                                   "constraints": [["hostname", "LIKE", "nowhere"]]}))
        driver.find_element(By.CSS_SELECTOR, "form[data-action=deploy] button[type=submit]").click()
        wait("deployed: the stuck app's page", lambda: "console/stuck" in driver.current_url)
        go(base + "/ui/deployments")
        wait("why it waits names the constraint",
             lambda: any("constraint hostname:LIKE:nowhere" in e.text for e in driver.find_elements(By.CSS_SELECTOR, ".why")))
        # Offers that do not fit make no event: the page must re-read itself while a deployment
        # waits (opened before the first offer, it once said "no offer in the last 1 s" for good).
        status = lambda: driver.find_element(By.ID, "live-status").text
        first = wait("the waiting deployment's page re-reads itself", lambda: status().startswith("updated") and status(), timeout=20)
        wait("... and keeps doing so without events", lambda: status().startswith("updated") and status() != first, timeout=20)
        shot("deployments")

        # 7. The other views render.
        for view, marker in [("cluster", "Agents"), ("events", "Events")]:
            go(base + "/ui/" + view)
            wait(f"the {view} view renders", lambda: marker in driver.find_element(By.TAG_NAME, "main").text)
            if view == "events":
                wait("the events view shows live events", lambda: driver.find_elements(By.CSS_SELECTOR, "#events li"), timeout=20)
            shot(view)

        collect()
        check(not errors, "no JavaScript error in the browser's console", errors)
    finally:
        driver.quit()

    failed = [w for w, ok in CHECKS if not ok]
    print(f"console: {len(CHECKS) - len(failed)} passed, {len(failed)} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
