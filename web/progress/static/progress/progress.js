// The operators' progress page: draws the Now panel and the history from /api/runs, polls it every
// second and redraws in place (never a page reload). All state comes from the server, so a redeploy
// of the web pods only shows up as a missed poll or two.
(function () {
  "use strict";
  const app = document.getElementById("progress-app");
  if (!app) return;
  const POLL_MS = 1000;
  const feedUrl = app.dataset.feed;
  const runUrl = (id, action) => app.dataset.runUrl.replace(/0$/, String(id)) + (action ? "/" + action : "");
  const chartUrl = (id) => app.dataset.throughputChart.replace("/0/", "/" + id + "/");
  const csrf = () => (document.querySelector("input[name=csrfmiddlewaretoken]") || {}).value || "";
  let chosenRun = null; // the run whose throughput chart is shown; null = the Now panel's run
  let lastDurationsKey = "";
  let lastChart = "";

  // -- small DOM helpers -----------------------------------------------------
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "dataset") Object.assign(node.dataset, value);
      else if (key in node && key !== "list") node[key] = value;
      else node.setAttribute(key, value);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }
  function duration(seconds) {
    if (seconds === null || seconds === undefined) return "–";
    seconds = Math.max(0, Math.round(seconds));
    if (seconds < 60) return seconds + " s";
    const m = Math.floor(seconds / 60), s = seconds % 60;
    if (m < 60) return m + " min " + String(s).padStart(2, "0") + " s";
    return Math.floor(m / 60) + " h " + String(m % 60).padStart(2, "0") + " min";
  }
  const number = (n) => (n === null || n === undefined ? "–" : Number(n).toLocaleString("en"));
  const rate = (n) => (n === null || n === undefined ? "–" : (n >= 100 ? Math.round(n).toLocaleString("en") : n.toFixed(1)));
  const when = (iso) => (iso ? new Date(iso).toLocaleString("en-GB", { dateStyle: "short", timeStyle: "medium" }) : "–");
  const params = (p) => Object.entries(p || {}).map(([k, v]) => k + "=" + JSON.stringify(v)).join(", ");
  const percent = (f) => Math.round(f * 1000) / 10 + " %";

  function bar(fraction, label, className) {
    const progress = el("progress", { max: 1, class: className || null, "aria-label": label });
    if (fraction !== null && fraction !== undefined) progress.value = fraction;
    return progress;
  }
  // A run's error begins with its stage ("write: RunCancelled: ..."): said once, and a deliberate cancel calmly.
  function problemText(run) {
    if (run.status === "cancelled") return "Cancelled by an operator.";
    if (!run.error) return null;
    const prefix = run.stage + ": ";
    return "Error in stage " + run.stage + ": " + (run.error.startsWith(prefix) ? run.error.slice(prefix.length) : run.error);
  }
  function statusText(run) {
    if (run.status === "stalled") return "stalled, last heard " + duration(run.heartbeat_age_seconds) + " ago";
    return run.status;
  }

  // -- actions -----------------------------------------------------------------
  // A notice about one run ("Run 2 created: pending ...") holds while the run keeps the status it described.
  let notice = null;
  function sayAbout(run, status, text) {
    say(text, "success");
    notice = { run, status };
  }
  function withdrawStaleNotice(byId) {
    if (!notice) return;
    const run = byId.get(notice.run);
    if (!run || run.status !== notice.status) { say(""); notice = null; }
  }
  function say(text, kind) {
    notice = null;
    const box = document.getElementById("action-message");
    box.textContent = text;
    box.className = "message " + (kind || "");
    box.hidden = !text;
  }
  async function post(url, payload) {
    const response = await fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrf() },
      body: JSON.stringify(payload || {}),
    });
    let body = {};
    try { body = await response.json(); } catch (err) { body = { error: "HTTP " + response.status }; }
    return { ok: response.ok, status: response.status, body };
  }
  async function act(runId, action, question, status) {
    if (question && !window.confirm(question)) return;
    const result = await post(runUrl(runId, action));
    if (result.ok && action === "cancel") sayAbout(runId, status, "Run " + runId + " cancelled: it stops at its next chunk.");
    else if (result.ok) say("Run " + runId + " is serving again.", "success");
    else say(result.body.error || "HTTP " + result.status, "error");
    refresh(false);
  }
  function actionButtons(run) {
    const buttons = [];
    if (run.can_cancel) buttons.push(el("button", { type: "button", class: "cancel", onclick: () => act(run.id, "cancel", "Cancel run " + run.id + "?", run.status) }, "Cancel"));
    if (run.can_activate) buttons.push(el("button", { type: "button", class: "activate", onclick: () => act(run.id, "activate", "Serve run " + run.id + " again instead of the current run?") }, "Serve again"));
    return buttons;
  }

  // -- the Now panel -------------------------------------------------------------
  function renderNow(feed, byId) {
    const panel = document.getElementById("now");
    const run = byId.get(feed.now_run_id);
    if (!run) {
      panel.replaceChildren(el("h2", {}, "Now"), el("p", {}, "No runs yet. Start one below."));
      return;
    }
    const working = run.can_cancel;
    const t = run.throughput;
    const heading = el("h2", {}, working ? "Now: run " + run.id : "Last run: run " + run.id,
      run.is_active ? el("span", { class: "badge" }, "serving") : null);
    const status = el("p", { class: "now-status status-" + run.status },
      el("strong", { class: "status" }, statusText(run)), " · ", el("span", { class: "algorithm" }, run.algorithm),
      " · ", el("code", { class: "parameters" }, params(run.parameters)));
    const problem = run.status === "cancelled" ? el("p", { class: "message now-cancelled" }, problemText(run))
      : run.error ? el("p", { class: "message error now-error" }, problemText(run)) : null;
    // Why a page-started Kubernetes Job has not started (web/progress/cluster_status.py), while the run is pending.
    const waiting = run.status === "pending" && run.waiting_reason ? el("p", { class: "message error now-waiting" },
      "Not started yet. " + run.waiting_reason) : null;
    const stalled = run.status === "stalled" ? el("p", { class: "message error now-stalled" },
      "No heartbeat for " + duration(run.heartbeat_age_seconds) + " (threshold " + feed.stall_after_seconds + " s): the job may have been killed or its node lost.") : null;
    const stages = el("ol", { class: "stages" }, run.stages.map((s) => el("li", { class: "stage-" + s.state, dataset: { stage: s.stage } },
      el("span", { class: "label" }, s.label.toLowerCase()), bar(s.state === "current" && s.fraction === null ? null : s.fraction, s.label),
      el("span", { class: "seconds" }, s.seconds !== null && s.seconds !== undefined ? duration(s.seconds) : (s.state === "current" ? "now" : s.state === "skipped" ? "skipped" : "")))));
    const main = el("div", { class: "now-bar" }, bar(run.fraction_done, "users done", "main"),
      el("span", { class: "users" }, number(run.users_done) + " / " + number(run.users_total) + " users"),
      el("span", { class: "percent" }, percent(run.fraction_done)));
    const figures = el("dl", { class: "figures" },
      el("dt", {}, "users/s"), el("dd", { class: "users-rate" }, rate(t.users_per_second)),
      el("dt", {}, "rows/s"), el("dd", { class: "rows-rate" }, rate(t.rows_per_second)),
      el("dt", {}, "rows"), el("dd", { class: "rows" }, number(run.rows_written)),
      el("dt", {}, "elapsed"), el("dd", { class: "elapsed" }, duration(t.elapsed_seconds)),
      el("dt", {}, "ETA"), el("dd", { class: "eta" }, working ? duration(t.eta_seconds) : "–"),
      el("dt", {}, "stage"), el("dd", { class: "stage" }, run.stage_label));
    const shards = run.shard_progress.length ? el("div", { class: "shards" }, el("h3", {}, "Shards"),
      el("ul", {}, run.shard_progress.map((s) => el("li", { class: "shard status-" + s.status, dataset: { shard: s.shard } },
        el("span", { class: "host" }, "#" + s.shard + " " + (s.host || "?")),
        bar(s.users_total ? s.users_done / s.users_total : 0, "shard " + s.shard),
        el("span", { class: "count" }, number(s.users_done) + " / " + number(s.users_total)),
        el("span", { class: "age" }, s.status === "stalled" ? "stalled, last heard " + duration(s.heartbeat_age_seconds) + " ago"
          : (working ? "heartbeat " + duration(s.heartbeat_age_seconds) + " ago" : s.status)))))) : null;
    const log = run.log && run.log.length ? el("div", { class: "now-log" }, el("h3", {}, "Log (last lines)"), logLines(run)) : null;
    panel.replaceChildren(...[heading, status, problem, waiting, stalled, main, stages, figures, shards, log,
      el("div", { class: "actions" }, actionButtons(run))].filter(Boolean));
    panel.dataset.run = run.id;
    panel.dataset.status = run.status;
  }

  // -- the serving line and the history ---------------------------------------------
  function renderServing(feed, byId) {
    const target = document.getElementById("serving");
    const run = byId.get(feed.active_run_id);
    if (!run) {
      target.replaceChildren("Serving: ", el("strong", { id: "active-run" }, feed.active_run_id ?? "no run yet"),
        feed.active_run_id ? "" : " (users get no personal lists until a run succeeds)");
      return;
    }
    target.replaceChildren("Serving: ", el("strong", { id: "active-run" }, String(run.id)),
      " (" + run.algorithm + ", finished " + when(run.finished_at) + ", " + number(run.users_done) + " users) — users see this run whatever happens to the others.");
  }
  // The headline figure (nDCG@10) and the rest on demand: all 17 as running text pushed the actions off a
  // 1280 px screen. The table is redrawn every second, so which runs' figures are open is remembered here.
  const HEADLINE = "ndcg@10";
  const openQuality = new Set();
  const figure = (v) => (Number.isInteger(v) || Math.abs(v) >= 10 ? String(v) : v.toFixed(3));
  // Beside a run that is not serving, the serving run's figure: what "Serve again" would change.
  function comparison(name, value, serving) {
    if (!serving || typeof (serving.quality || {})[name] !== "number") return null;
    const other = serving.quality[name], delta = value - other;
    const sign = delta > 0 ? "+" : delta < 0 ? "−" : "±";
    return el("span", { class: "versus muted small", title: "run " + serving.id + " serves now" },
      " vs " + figure(other) + " serving (" + sign + figure(Math.abs(delta)) + ")");
  }
  function qualityCell(run, serving) {
    const entries = Object.entries(run.quality || {});
    if (!entries.length) return "–";
    const [name, value] = entries.find(([k]) => k === HEADLINE) || entries[0];
    const headline = el("span", { class: "headline" }, (name === HEADLINE ? "nDCG@10" : name) + " " + figure(value),
      run.is_active ? null : comparison(name, value, serving));
    if (entries.length === 1) return headline;
    const details = el("details", {}, el("summary", { title: "all " + entries.length + " figures" }, headline),
      el("dl", { class: "quality-all" }, entries.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, figure(v))])));
    details.open = openQuality.has(run.id);
    details.addEventListener("toggle", () => { if (details.open) openQuality.add(run.id); else openQuality.delete(run.id); });
    return details;
  }
  // A run's last log lines (the job writes them to the database with its heartbeat): in the Now panel, and on
  // demand in the history, whose open ones are remembered across the redraws like the figures.
  const openLogs = new Set();
  function logLines(run) {
    return el("pre", { class: "log", tabIndex: 0, "aria-label": "last log lines of run " + run.id }, run.log.join("\n"));
  }
  function logCell(run) {
    if (!run.log || !run.log.length) return null;
    const details = el("details", { class: "log" }, el("summary", {}, "log"), logLines(run));
    details.open = openLogs.has(run.id);
    details.addEventListener("toggle", () => { if (details.open) openLogs.add(run.id); else openLogs.delete(run.id); });
    return details;
  }
  function renderHistory(feed, byId) {
    const serving = byId.get(feed.active_run_id);
    const body = document.querySelector("#runs tbody");
    if (!feed.runs.length) {
      body.replaceChildren(el("tr", {}, el("td", { colSpan: 10 }, "No runs yet.")));
      return;
    }
    body.replaceChildren(...feed.runs.map((run) => el("tr", { dataset: { run: run.id }, class: "status-" + run.status },
      el("td", {}, String(run.id), run.is_active ? [" ", el("span", { class: "badge" }, "serving")] : null),
      el("td", { class: "algorithm", title: params(run.parameters) }, run.algorithm),
      el("td", { class: "start" }, when(run.started_at)),
      el("td", { class: "duration" }, duration(run.duration_seconds)),
      el("td", {}, bar(run.fraction_done, "run " + run.id)),
      el("td", { class: "users" }, run.users_done + " / " + run.users_total),
      el("td", { class: "rows" }, number(run.rows_written)),
      el("td", {}, el("span", { class: "status" }, statusText(run)), run.can_cancel ? el("span", { class: "stage muted" }, " (" + run.stage + ")") : null,
        run.status === "cancelled" ? el("div", { class: "muted small cancelled-by" }, "by an operator")
          : run.error ? el("div", { class: "error" }, problemText(run)) : null),
      el("td", { class: "quality" }, qualityCell(run, serving)),
      el("td", { class: "actions" }, actionButtons(run),
        el("button", { type: "button", class: "link chart", onclick: () => { chosenRun = run.id; refresh(false); } }, "chart"),
        logCell(run)))));
  }
  function renderCharts(feed, byId) {
    const id = chosenRun && byId.has(chosenRun) ? chosenRun : feed.now_run_id;
    const img = document.getElementById("throughput-chart");
    if (id) {
      const run = byId.get(id);
      const key = id + ":" + run.users_done + ":" + run.status;
      if (key !== lastChart) {
        img.src = chartUrl(id) + "?v=" + encodeURIComponent(key);
        lastChart = key;
      }
      document.getElementById("chart-run").textContent = String(id);
    }
    const finished = feed.runs.filter((r) => r.finished_at).map((r) => r.id + r.status).join(",");
    if (finished !== lastDurationsKey) {
      document.getElementById("durations-chart").src = app.dataset.durationsChart + "?v=" + encodeURIComponent(finished.length + ":" + finished.slice(0, 40));
      lastDurationsKey = finished;
    }
  }

  // -- the retraining line: interactions since the serving run's data, and the policy ----
  function renderRetraining(feed) {
    const policy = feed.retraining;
    document.getElementById("new-interactions").textContent =
      policy.new_interactions === null ? "not counted" : String(policy.new_interactions);
    document.getElementById("retrain-policy").textContent =
      (policy.threshold ? "A run starts by itself at " + policy.threshold : "No run starts by count (RETRAIN_THRESHOLD is off)") +
      "; " + (policy.schedule ? "scheduled: " + policy.schedule : "no schedule") + ".";
  }

  // -- the keyboard and the screen reader across the redraws --------------------------------
  // The Now panel and the history are drawn anew every second while a run goes: a button the keyboard is on would
  // go with them and leave it on the page's <body>. Where it was is remembered as its panel or run row and its
  // place among the same kind of control there, and given to the new one; gone (a cancelled run has no Cancel),
  // the keyboard goes to what the action said, or to the panel.
  function focusPlace() {
    const focused = document.activeElement;
    const holder = focused && focused.closest ? focused.closest("#now, #runs tr[data-run]") : null;
    if (!holder || focused === holder) return null;
    const kind = focused.tagName.toLowerCase() + (focused.classList.length ? "." + focused.classList[0] : "");
    return { holder: holder.id ? "#now" : "#runs tr[data-run='" + holder.dataset.run + "']", kind,
      index: Array.prototype.indexOf.call(holder.querySelectorAll(kind), focused) };
  }
  function giveFocusBack(place) {
    if (!place || (document.activeElement && document.activeElement !== document.body)) return;
    const holder = document.querySelector(place.holder);
    const same = holder && holder.querySelectorAll(place.kind)[place.index];
    const message = document.getElementById("action-message");
    const target = same || (!message.hidden ? message : document.getElementById("now"));
    target.focus({ preventScroll: Boolean(same) });
  }
  // Said once per change of the run's stage or outcome, not every tick of its counts.
  function sayRun(feed, byId) {
    const run = byId.get(feed.now_run_id);
    const text = !run ? "No runs yet." : "Run " + run.id + " " + statusText(run).replace(/, last heard.*/, "") +
      (run.can_cancel ? ", stage " + run.stage_label.toLowerCase() : "") + ".";
    const target = document.getElementById("run-said");
    if (target.textContent !== text) target.textContent = text;
  }

  let lastFeed = null;
  function render(feed) {
    lastFeed = feed;
    const place = focusPlace();
    const byId = new Map(feed.runs.map((run) => [run.id, run]));
    withdrawStaleNotice(byId);
    renderServing(feed, byId);
    renderRetraining(feed);
    renderNow(feed, byId);
    renderHistory(feed, byId);
    renderCharts(feed, byId);
    sayRun(feed, byId);
    giveFocusBack(place);
    app.dataset.updated = feed.server_time;
  }

  // -- polling -----------------------------------------------------------------------
  let timer = null;
  // The ETag of the feed drawn last: while every run has finished the server answers the next poll 304 (nothing on
  // the page moves with the clock then) and the page stays as it is.
  let feedEtag = null;
  async function refresh(schedule = true) {
    const state = document.getElementById("feed-state");
    try {
      const headers = { Accept: "application/json" };
      if (feedEtag) headers["If-None-Match"] = feedEtag;
      const response = await fetch(feedUrl, { headers, credentials: "same-origin", cache: "no-store" });
      if (response.status === 403) throw new Error("signed out or not an operator: reload to sign in");
      if (response.status === 304) {
        if (!schedule) render(lastFeed); // asked for by a click (another run's chart): same feed, drawn again
      } else {
        if (!response.ok) throw new Error("HTTP " + response.status);
        render(await response.json());
        feedEtag = response.headers.get("ETag");
      }
      state.textContent = "Updated " + new Date().toLocaleTimeString("en-GB") + ".";
      state.className = "";
      if (app.dataset.error !== undefined) document.getElementById("feed-said").textContent = "Updating again.";
      delete app.dataset.error;
    } catch (err) {
      // A redeploy or a network blip: keep what is shown, say so, and keep polling.
      state.textContent = "Could not update (" + err.message + "); retrying.";
      state.className = "stale";
      if (app.dataset.error === undefined) document.getElementById("feed-said").textContent = state.textContent;
      app.dataset.error = String(err.message || err);
    } finally {
      if (schedule) timer = setTimeout(refresh, POLL_MS);
    }
  }

  // -- the start form ----------------------------------------------------------------
  const form = document.getElementById("start-form");
  if (form) {
    const algorithms = JSON.parse(document.getElementById("algorithms").textContent);
    const select = document.getElementById("start-algorithm");
    const drawParams = () => {
      const algorithm = algorithms[select.value] || { params: {}, summary: "" };
      document.getElementById("start-params").replaceChildren(...Object.entries(algorithm.params).map(([name, value]) =>
        el("label", {}, name, " ", el("input", { name: "param:" + name, placeholder: value === null ? "" : String(value), size: 8 }))));
      document.getElementById("start-summary").textContent = algorithm.summary;
    };
    select.addEventListener("change", drawParams);
    drawParams();
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const payload = { algorithm: select.value, parameters: {} };
      for (const input of form.querySelectorAll("input")) {
        if (input.type === "checkbox") { if (input.checked) payload[input.name] = true; continue; }
        const value = input.value.trim();
        if (!value || input.type === "hidden") continue;
        if (input.name.startsWith("param:")) {
          let parsed = value;
          try { parsed = JSON.parse(value); } catch (err) { parsed = value; } // a bare word is a string, as on the command line
          payload.parameters[input.name.slice(6)] = parsed;
        } else {
          payload[input.name] = Number(value);
        }
      }
      const errors = document.getElementById("start-errors");
      errors.replaceChildren();
      // Busy while the run is created: aria-disabled, not disabled, which would drop the keyboard on the <body>.
      const button = document.getElementById("start-button");
      if (button.getAttribute("aria-disabled") === "true") return;
      button.setAttribute("aria-disabled", "true");
      try {
        const result = await post(feedUrl, payload);
        if (result.ok) {
          sayAbout(result.body.id, "pending", "Run " + result.body.id + " created: pending until the " + (app.dataset.launcher === "kubernetes" ? "Job's pod" : "worker") + " starts it.");
          chosenRun = null;
        } else {
          const fields = result.body.fields || {};
          const messages = Object.entries(fields).flatMap(([k, v]) => (Array.isArray(v) ? v : [JSON.stringify(v)]).map((m) => k + ": " + m));
          errors.replaceChildren(...(messages.length ? messages : [result.body.error || "HTTP " + result.status]).map((m) => el("li", {}, m)));
        }
      } finally {
        button.removeAttribute("aria-disabled");
        refresh(false);
      }
    });
  }

  render(JSON.parse(document.getElementById("initial-feed").textContent));
  timer = setTimeout(refresh, POLL_MS);
})();
