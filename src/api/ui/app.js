// The Auspex dashboard: hosts and services with their states, live from the event stream
// (Server-Sent Events), with acknowledge / downtime / reschedule / check-now actions.
// It authenticates with an API token (from a user and password once, or pasted), kept
// for this browser tab only.
"use strict";

const TOKEN_KEY = "auspex.token";
const SERVICE_STATES = ["OK", "WARNING", "CRITICAL", "UNKNOWN"];
const STATE_CLASSES = ["ok", "warning", "critical", "unknown"];
const EVENT_TYPES = ["CheckResult", "StateChange", "AcknowledgementSet", "AcknowledgementCleared",
  "DowntimeStarted", "DowntimeRemoved"];
const ATTRS = ["name", "display_name", "host_name", "state", "state_type", "last_check",
  "last_check_result", "acknowledgement", "downtime_depth"];

const rows = new Map(); // key ("host" or "host!service") → row state
let token = null;
let user = "";
let events = null;
let reloadTimer = null;

const $ = (id) => document.getElementById(id);

function show(section) {
  $("login").hidden = section !== "login";
  $("board").hidden = section !== "board";
  $("logout").hidden = section !== "board";
}

async function api(method, path, body, auth) {
  const headers = { "Accept": "application/json" };
  headers["Authorization"] = auth || ("Bearer " + token);
  const init = { method, headers };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const res = await fetch(path, init);
  let json = null;
  try { json = await res.json(); } catch (e) { json = null; }
  if (res.status === 401 && !auth) {
    signOut("Your session has ended; sign in again.");
  }
  return { status: res.status, json };
}

async function signIn(form) {
  const error = $("login-error");
  error.textContent = "";
  const pasted = form.token.value.trim();
  if (pasted) {
    token = pasted;
  } else {
    const basic = "Basic " + btoa(unescape(encodeURIComponent(form.user.value + ":" + form.password.value)));
    const { status, json } = await api("POST", "/v1/tokens",
      { name: "dashboard", ttl: 12 * 3600 }, basic);
    if (status !== 200) {
      error.textContent = (json && json.status) || ("Sign-in failed (HTTP " + status + ").");
      return;
    }
    token = json.results[0].token;
  }
  sessionStorage.setItem(TOKEN_KEY, token);
  await start();
}

function signOut(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  token = null;
  if (events) { events.close(); events = null; }
  rows.clear();
  $("objects").tBodies[0].textContent = "";
  $("login-error").textContent = message || "";
  setConnection(false);
  show("login");
}

async function start() {
  const me = await api("GET", "/v1");
  if (me.status !== 200) {
    signOut(me.status === 401 ? "" : "The server refused the token.");
    return;
  }
  user = me.json.results[0].user || "dashboard";
  show("board");
  await load();
  connect();
}

// ---- objects -------------------------------------------------------------------------

function keyOf(host, service) {
  return service ? host + "!" + service : host;
}

async function query(type, filter) {
  const body = { attrs: type === "hosts" ? ATTRS.filter((a) => a !== "host_name") : ATTRS };
  if (filter) body.filter = filter;
  const res = await fetch("/v1/objects/" + type, {
    method: "POST",
    headers: { "Accept": "application/json", "Content-Type": "application/json",
      "X-HTTP-Method-Override": "GET", "Authorization": "Bearer " + token },
    body: JSON.stringify(body),
  });
  const json = await res.json().catch(() => null);
  return { status: res.status, json };
}

async function load() {
  const filter = $("filter").value.trim();
  const services = await query("services", filter);
  const error = $("filter-error");
  if (services.status !== 200 && !(services.status === 404 && services.json && services.json.results)) {
    error.textContent = (services.json && services.json.status) || ("HTTP " + services.status);
    return;
  }
  error.textContent = "";
  // Hosts too, when the filter applies to them (a filter about services does not).
  const hosts = await query("hosts", filter);
  rows.clear();
  for (const o of (hosts.status === 200 ? hosts.json.results : [])) {
    if (o.attrs) rows.set(o.name, fromObject(o.attrs, true));
  }
  for (const o of (services.json.results || [])) {
    if (o.attrs) rows.set(o.name, fromObject(o.attrs, false));
  }
  render();
}

function fromObject(a, isHost) {
  const cr = a.last_check_result;
  return {
    host: isHost ? a.name : a.host_name,
    service: isHost ? "" : a.name,
    isHost,
    state: a.state,
    pending: !cr,
    output: cr ? cr.output : "",
    lastCheck: a.last_check > 0 ? a.last_check : null,
    acknowledged: a.acknowledgement > 0,
    downtime: a.downtime_depth > 0,
  };
}

function stateName(r) {
  if (r.pending) return ["PENDING", "pending"];
  if (r.isHost) return r.state === 0 ? ["UP", "ok"] : ["DOWN", "critical"];
  return [SERVICE_STATES[r.state] || "UNKNOWN", STATE_CLASSES[r.state] || "unknown"];
}

function render() {
  const body = $("objects").tBodies[0];
  body.textContent = "";
  const sorted = [...rows.entries()].sort(([a, x], [b, y]) => severity(y) - severity(x) || a.localeCompare(b));
  for (const [key, r] of sorted) {
    body.appendChild(rowElement(key, r));
  }
  counts();
}

function severity(r) {
  if (r.pending) return 0;
  const rank = r.isHost ? (r.state === 0 ? 1 : 5) : [1, 3, 5, 4][r.state] || 4;
  return (r.acknowledged || r.downtime) ? rank - 0.5 : rank;
}

function rowElement(key, r) {
  const tr = document.createElement("tr");
  tr.dataset.key = key;
  fill(tr, r);
  return tr;
}

function cell(tr, cls, text) {
  const td = document.createElement("td");
  td.className = cls;
  td.textContent = text;
  tr.appendChild(td);
  return td;
}

function fill(tr, r) {
  const [name, cls] = stateName(r);
  tr.textContent = "";
  tr.className = "s-" + cls + ((r.acknowledged || r.downtime) ? " handled" : "");
  const state = cell(tr, "state", "");
  const span = document.createElement("span");
  span.className = "label";
  span.textContent = name;
  state.appendChild(span);
  if (r.acknowledged) badge(state, "ack");
  if (r.downtime) badge(state, "downtime");
  cell(tr, "host", r.host);
  cell(tr, "service", r.service || "—");
  cell(tr, "output", r.output);
  cell(tr, "last-check", r.lastCheck ? new Date(r.lastCheck * 1000).toLocaleTimeString() : "");
  const actions = cell(tr, "actions", "");
  const type = r.isHost ? "Host" : "Service";
  const target = r.isHost ? { host: r.host } : { service: r.host + "!" + r.service };
  const now = () => Date.now() / 1000;
  button(actions, "Ack", "acknowledge", () => act("acknowledge-problem",
    { type, ...target, author: user, comment: "Acknowledged from the dashboard." }), r.pending || r.state === 0 || r.acknowledged);
  button(actions, "Downtime 1h", "downtime", () => act("schedule-downtime",
    { type, ...target, author: user, comment: "Downtime from the dashboard.", start_time: now(), end_time: now() + 3600, fixed: true }));
  button(actions, "Reschedule", "reschedule", () => act("reschedule-check",
    { type, ...target, next_check: now() + 300 }));
  button(actions, "Check now", "check-now", () => act("reschedule-check",
    { type, ...target, force: true }));
}

function badge(parent, text) {
  const b = document.createElement("span");
  b.className = "badge";
  b.textContent = text;
  parent.appendChild(b);
}

function button(parent, label, name, onClick, disabled) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = label;
  b.name = name;
  b.disabled = !!disabled;
  b.addEventListener("click", onClick);
  parent.appendChild(b);
}

async function act(action, body) {
  const { status, json } = await api("POST", "/v1/actions/" + action, body);
  const item = json && json.results && json.results[0];
  logLine(action + ": " + ((item && item.status) || (json && json.status) || ("HTTP " + status)));
}

function counts() {
  const n = { ok: 0, warning: 0, critical: 0, unknown: 0, pending: 0 };
  for (const r of rows.values()) n[stateName(r)[1]] += 1;
  for (const k of Object.keys(n)) $("count-" + k).textContent = n[k];
  document.title = (n.critical ? "(" + n.critical + ") " : "") + "Auspex";
}

// ---- live updates ----------------------------------------------------------------------

function setConnection(up) {
  const c = $("connection");
  c.className = up ? "up" : "down";
  c.textContent = up ? "live" : "offline";
}

function connect() {
  if (events) events.close();
  const params = new URLSearchParams();
  for (const t of EVENT_TYPES) params.append("types", t);
  params.append("access_token", token);
  // The browser resumes with Last-Event-ID after a disconnect: nothing is missed.
  events = new EventSource("/v1/events?" + params.toString());
  events.onopen = () => setConnection(true);
  events.onerror = () => setConnection(false);
  for (const t of EVENT_TYPES) {
    events.addEventListener(t, (e) => onEvent(JSON.parse(e.data)));
  }
}

function onEvent(ev) {
  const key = keyOf(ev.host, ev.service);
  const r = rows.get(key);
  if (ev.type === "CheckResult" || ev.type === "StateChange") {
    logLine(describe(ev));
  } else {
    logLine(ev.type + " " + key + (ev.author ? " by " + ev.author : ""));
  }
  if (!r) {
    // Not listed: with a filter it may match now.
    if ($("filter").value.trim()) scheduleReload();
    return;
  }
  if (ev.type === "CheckResult") {
    const cr = ev.check_result;
    r.pending = false;
    r.state = r.isHost ? (cr.state === 0 ? 0 : 1) : cr.state;
    r.output = cr.output;
    r.lastCheck = cr.execution_end;
    r.acknowledged = !!ev.acknowledgement;
    r.downtime = ev.downtime_depth > 0;
  } else if (ev.type === "AcknowledgementSet") {
    r.acknowledged = true;
  } else if (ev.type === "AcknowledgementCleared") {
    r.acknowledged = false;
  } else if (ev.type === "DowntimeStarted") {
    r.downtime = true;
  } else if (ev.type === "DowntimeRemoved") {
    scheduleReload();
  }
  const tr = document.querySelector('tr[data-key="' + CSS.escape(key) + '"]');
  if (tr) {
    fill(tr, r);
    tr.classList.remove("changed");
    void tr.offsetWidth;
    tr.classList.add("changed");
  }
  counts();
  if ($("filter").value.trim() && ev.type === "StateChange") scheduleReload();
}

function describe(ev) {
  const key = keyOf(ev.host, ev.service);
  if (ev.type === "StateChange") {
    const name = ev.service ? SERVICE_STATES[ev.state] : (ev.state === 0 ? "UP" : "DOWN");
    return "StateChange " + key + " → " + name + (ev.state_type === 1 ? " (hard)" : " (soft)");
  }
  return "CheckResult " + key + ": " + (ev.check_result.output || "");
}

function scheduleReload() {
  clearTimeout(reloadTimer);
  reloadTimer = setTimeout(load, 500);
}

function logLine(text) {
  const li = document.createElement("li");
  li.textContent = new Date().toLocaleTimeString() + "  " + text;
  const log = $("log");
  log.insertBefore(li, log.firstChild);
  while (log.children.length > 200) log.removeChild(log.lastChild);
}

// ---- start -----------------------------------------------------------------------------

document.addEventListener("DOMContentLoaded", () => {
  $("login-form").addEventListener("submit", (e) => { e.preventDefault(); signIn(e.target); });
  $("filter-form").addEventListener("submit", (e) => { e.preventDefault(); load(); });
  $("logout").addEventListener("click", () => signOut(""));
  // A link may carry a token in its fragment (never sent to the server in the URL).
  const fragment = new URLSearchParams(location.hash.slice(1));
  if (fragment.get("token")) {
    sessionStorage.setItem(TOKEN_KEY, fragment.get("token"));
    history.replaceState(null, "", location.pathname);
  }
  token = sessionStorage.getItem(TOKEN_KEY);
  if (token) start(); else show("login");
});
