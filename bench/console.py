#!/usr/bin/python3
"""Console at scale (issue 16): master + framework + 100 simulated agents (`pacer agent
--simulate`), APPS apps of TASKS instances each (default 1,000 x 10 = 10,000 tasks), then the time
and size of the console's pages (/ui/, /ui/deployments, /ui/app, /ui/cluster, and the live
fragment the script re-fetches at most once a second), 20 requests each, p50 / p99.

With --browser, also headless Chromium (Debian's chromium, chromium-driver, python3-selenium):
the page's load time and the time the script takes to fetch and swap in a live refresh.

Usage: bench/console.py [--apps 1000] [--tasks 10] [--bin .build/release/pacer] [--browser]
Not part of `make test`: timings belong here.
"""
import argparse, os, shutil, sys, tempfile, time

sys.path.insert(0, os.path.dirname(__file__))
from scale import Client, Proc, free_port, pct, wait_until  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--apps", type=int, default=1000)
    ap.add_argument("--tasks", type=int, default=10)
    ap.add_argument("--agents", type=int, default=100)
    ap.add_argument("--bin", default=".build/release/pacer")
    ap.add_argument("--browser", action="store_true")
    args = ap.parse_args()
    root = tempfile.mkdtemp(prefix="pacer-console-bench-")
    mport, fport, sport = free_port(), free_port(), free_port()
    procs = []
    try:
        procs.append(Proc("master", [args.bin, "master", "--port", str(mport), "--state-dir", root + "/m"], root))
        procs.append(Proc("agents", [args.bin, "agent", "--simulate", str(args.agents), "--port", str(sport),
                                     "--master", f"http://127.0.0.1:{mport}", "--cpus", "64", "--mem", "262144"], root))
        procs.append(Proc("framework", [args.bin, "framework", "--port", str(fport), "--master", f"http://127.0.0.1:{mport}",
                                        "--state-dir", root + "/f"], root))
        api = Client(fport)
        wait_until("the framework", 30, lambda: api.call("GET", "/v2/info")[0] == 200)
        t0 = time.monotonic()
        for i in range(args.apps):
            status, _ = api.json("POST", "/v2/apps", {"id": f"/team-{i % 20}/app-{i}", "cmd": "sleep 3600",
                                                      "instances": args.tasks, "cpus": 0.01, "mem": 8})
            assert status == 201, status
        want = args.apps * args.tasks
        wait_until(f"{want} tasks running", 600, lambda: len(api.json("GET", "/v2/tasks")[1]["tasks"]) >= want, step=1)
        print(f"{args.apps} apps x {args.tasks} = {want} tasks running after {time.monotonic() - t0:.0f} s")
        print("| page | p50 | p99 | size |\n|---|---|---|---|")
        for name, path in [("/ui/ (every app)", "/ui/"), ("/ui/ live fragment", "/ui/?fragment=1"),
                           ("/ui/?path=/team-3", "/ui/?path=/team-3"), ("/ui/app (10 tasks)", "/ui/app?id=/team-3/app-3"),
                           ("/ui/deployments", "/ui/deployments"), ("/ui/cluster (100 agents)", "/ui/cluster"),
                           ("GET /v2/apps (for comparison)", "/v2/apps")]:
            times, size = [], 0
            for _ in range(20):
                t = time.monotonic()
                status, body = api.call("GET", path)
                times.append(time.monotonic() - t)
                assert status == 200, (path, status, body[:200])
                size = len(body)
            print(f"| {name} | {pct(times, 50) * 1000:.0f} ms | {pct(times, 99) * 1000:.0f} ms | {size / 1024:.0f} KiB |")
        print(f"framework RSS {procs[2].rss_mib():.0f} MiB")
        if args.browser:
            browser(f"http://127.0.0.1:{fport}")
    finally:
        for p in reversed(procs):
            p.stop()
        shutil.rmtree(root, ignore_errors=True)


def browser(base):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    driver.set_page_load_timeout(120)
    try:
        loads, swaps = [], []
        for _ in range(5):
            driver.get(base + "/ui/")
            loads.append(driver.execute_script(
                "const n = performance.getEntriesByType('navigation')[0]; return n.loadEventEnd - n.startTime;"))
            # What a live refresh costs the page: fetch the fragment, swap it in, let it lay out.
            swaps.append(driver.execute_async_script("""
                const done = arguments[0], t = performance.now();
                fetch(location.pathname + '?fragment=1').then(r => r.text()).then(html => {
                  document.getElementById('live').innerHTML = html;
                  document.body.offsetHeight;
                  requestAnimationFrame(() => done(performance.now() - t));
                });"""))
        rows = len(driver.find_elements("css selector", "tr[data-app]"))
        print(f"browser, /ui/ with {rows} app rows: load p50 {sorted(loads)[2]:.0f} ms (max {max(loads):.0f}); "
              f"live refresh (fetch + swap + layout) p50 {sorted(swaps)[2]:.0f} ms (max {max(swaps):.0f}), at most once a second")
    finally:
        driver.quit()


if __name__ == "__main__":
    main()
