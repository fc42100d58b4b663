// Pacer console: live updates and actions. No framework; one module.
//
// Live updates: one EventSource per open console (the framework's /v2/events). An event marks
// the page stale; at most once a second the page's live part is fetched again (?fragment=1) and
// swapped in — a burst of a thousand status updates costs one request, not a thousand.

const main = document.getElementById("live");
const status = document.getElementById("live-status");
const page = location.pathname;

function say(text) { if (status) status.textContent = text; }

// ---- actions: the same /v2 API, with the browser's credentials ----

async function call(method, url, body) {
  const init = { method, headers: {} };
  if (body !== undefined) { init.headers["Content-Type"] = "application/json"; init.body = typeof body === "string" ? body : JSON.stringify(body); }
  const r = await fetch(url, init);
  const text = await r.text();
  if (!r.ok) {
    let message = text;
    try { const j = JSON.parse(text); message = j.message + (j.details ? " " + JSON.stringify(j.details) : ""); } catch (_) {}
    throw new Error(`${r.status}: ${message}`);
  }
  return text ? JSON.parse(text) : {};
}

function appPath(id) { return "/v2/apps" + id.split("/").map(encodeURIComponent).join("/"); }

function report(el, error, ok) {
  const box = el.closest("section, article")?.querySelector(".message") || document.querySelector(".message");
  if (!box) { if (error) alert(error.message); return; }
  box.className = "message" + (error ? "" : " ok");
  box.textContent = error ? error.message : ok;
}

async function act(el, form) {
  const action = el.dataset.action;
  const scope = el.closest("[data-app]");
  const app = scope ? scope.dataset.app : "";
  try {
    switch (action) {
      case "scale": {
        const n = parseInt(form.elements.instances.value, 10);
        await call("PUT", appPath(app), { instances: n });
        report(el, null, `scaling to ${n}`); break;
      }
      case "restart": await call("POST", appPath(app) + "/restart"); report(el, null, "restarting"); break;
      case "suspend": await call("PUT", appPath(app), { instances: 0 }); report(el, null, "suspending"); break;
      case "delete":
        if (!confirm(`Delete ${app} and kill its tasks?`)) return;
        await call("DELETE", appPath(app)); location.href = "/ui/"; return;
      case "kill": case "kill-scale":
        await call("POST", "/v2/tasks/delete" + (action === "kill-scale" ? "?scale=true" : ""), { ids: [el.dataset.task] });
        report(el, null, "killed " + el.dataset.task); break;
      case "rollback": await call("DELETE", "/v2/deployments/" + encodeURIComponent(el.dataset.deployment)); report(el, null, "rolling back"); break;
      case "promote": await call("POST", "/v2/deployments/" + encodeURIComponent(el.dataset.deployment) + "/promote"); report(el, null, "promoted"); break;
      case "abort": await call("POST", "/v2/deployments/" + encodeURIComponent(el.dataset.deployment) + "/abort"); report(el, null, "aborted"); break;
      case "deploy": {
        const text = form.elements.spec.value;
        let spec;
        try { spec = JSON.parse(text); } catch (e) { throw new Error("not JSON: " + e.message); }
        if (!spec.id) throw new Error("the spec needs an id");
        await call("PUT", appPath(spec.id), text);
        location.href = "/ui/app?id=" + encodeURI(spec.id); return;
      }
    }
    refresh();
  } catch (e) { report(el, e); }
}

document.addEventListener("submit", (event) => {
  const form = event.target;
  if (!form.dataset.action) return;
  event.preventDefault();
  act(form, form);
});
document.addEventListener("click", (event) => {
  const el = event.target.closest("button[data-action]");
  if (!el || el.closest("form[data-action]")) return;
  event.preventDefault();
  act(el, null);
});

// ---- live refresh of the page's own data ----

let stale = false, busy = false, editing = false;
document.addEventListener("focusin", (e) => { editing = !!e.target.closest("textarea, input, select"); });
document.addEventListener("focusout", () => { editing = false; });

async function refresh() {
  if (busy || !main) return;
  busy = true; stale = false;
  try {
    const url = new URL(location.href);
    url.searchParams.set("fragment", "1");
    const r = await fetch(url);
    if (r.ok) { main.innerHTML = await r.text(); say("updated " + new Date().toLocaleTimeString()); wireLogs(); }
  } catch (_) { say("offline"); }
  busy = false;
}

const livePages = ["/ui/", "/ui/app", "/ui/deployments", "/ui/traffic", "/ui/cluster"];
if (livePages.includes(page) && !new URLSearchParams(location.search).has("new")) {
  const events = new EventSource("/v2/events");
  events.onopen = () => say("live");
  events.onerror = () => say("reconnecting…");
  const mark = () => { stale = true; };
  for (const type of ["status_update_event", "deployment_info", "deployment_success", "deployment_failed",
    "deployment_step_success", "health_status_changed_event", "api_post_event", "app_terminated_event",
    "instance_health_changed_event", "unhealthy_task_kill_event"]) events.addEventListener(type, mark);
  // Traffic, the cluster and what a deployment waits on (offers that do not fit, time waited)
  // change without events: they are re-read every 5 s while shown. A deployments page opened
  // before the first offer reached the new app said "no offer in the last 1 s" until some
  // unrelated event came.
  const changesWithoutEvents = () => page === "/ui/traffic" || page === "/ui/cluster" || (main && main.querySelector("article.deployment"));
  setInterval(() => { if (changesWithoutEvents()) mark(); }, 5000);
  setInterval(() => { if (stale && !editing && !document.hidden) refresh(); }, 1000);
}

// ---- logs: follow (tail -f) and page backwards ----

function wireLogs() {
  const follow = document.getElementById("follow");
  const log = document.getElementById("log");
  if (!follow || !log) return;
  const base = `/v2/tasks/${encodeURIComponent(follow.dataset.task)}/files/read?path=${follow.dataset.file}`;
  let offset = parseInt(follow.dataset.offset, 10);
  let start = parseInt(follow.dataset.start, 10);
  let timer = null;
  async function poll() {
    try {
      const chunk = await call("GET", `${base}&offset=${offset}&length=65536`);
      if (chunk.data) {
        const atEnd = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
        log.append(document.createTextNode(chunk.data));
        offset += new TextEncoder().encode(chunk.data).length;
        if (atEnd) log.scrollTop = log.scrollHeight;
      }
    } catch (e) { say(e.message); }
  }
  follow.addEventListener("change", () => {
    if (follow.checked) { poll(); timer = setInterval(poll, 1000); say("following"); }
    else { clearInterval(timer); say(""); }
  });
  const earlier = document.getElementById("earlier");
  if (earlier) earlier.addEventListener("click", async () => {
    const from = Math.max(0, start - 65536);
    const chunk = await call("GET", `${base}&offset=${from}&length=${start - from}`);
    log.prepend(document.createTextNode(chunk.data || ""));
    start = from;
    if (start === 0) earlier.remove();
  });
}
wireLogs();

// ---- events page ----

const list = document.getElementById("events");
if (list) {
  const form = document.getElementById("event-filter");
  const type = form.elements.type.value.trim();
  const app = form.elements.app.value.trim();
  const source = new EventSource("/v2/events" + (type ? "?event_type=" + encodeURIComponent(type) : ""));
  source.onopen = () => say("live");
  const show = (event) => {
    if (app && !event.data.includes(`"${app}`)) return;
    const item = document.createElement("li");
    item.textContent = `${event.type}  ${event.data}`;
    list.prepend(item);
    while (list.children.length > 500) list.lastChild.remove();
  };
  source.onmessage = show;
  for (const t of ["status_update_event", "deployment_info", "deployment_success", "deployment_failed", "deployment_step_success",
    "api_post_event", "health_status_changed_event", "app_terminated_event", "event_stream_attached", "instance_health_changed_event",
    "unhealthy_task_kill_event", "framework_message_event", "group_change_success", "deployment_step_failure"]) source.addEventListener(t, show);
}
