// Polls /api/runs and redraws the runs table in place: no full page reload.
(function () {
  "use strict";
  const table = document.getElementById("runs");
  if (!table) return;
  const feed = table.dataset.feed;
  const body = table.querySelector("tbody");
  const POLL_MS = 2000;

  function cell(text, className) {
    const td = document.createElement("td");
    if (className) td.className = className;
    td.textContent = text;
    return td;
  }

  function row(run) {
    const tr = document.createElement("tr");
    tr.dataset.run = run.id;
    tr.className = "status-" + run.status;
    const id = cell(String(run.id));
    if (run.is_active) {
      const badge = document.createElement("span");
      badge.className = "badge";
      badge.textContent = "serving";
      id.append(" ", badge);
    }
    const bar = document.createElement("progress");
    bar.max = 1;
    bar.value = run.fraction_done;
    const barCell = document.createElement("td");
    barCell.append(bar);
    const duration = run.duration_seconds === null ? "" : run.duration_seconds.toFixed(1) + " s";
    tr.append(id, cell(run.algorithm), cell(run.status, "status"), cell(run.stage, "stage"), barCell,
      cell(run.users_done + " / " + run.users_total, "users"), cell(String(run.rows_written), "rows"),
      cell(duration, "duration"), cell(run.error, "error"));
    return tr;
  }

  async function refresh() {
    try {
      const response = await fetch(feed, { headers: { Accept: "application/json" } });
      if (!response.ok) throw new Error(response.status);
      const data = await response.json();
      body.replaceChildren(...data.runs.map(row));
      document.getElementById("active-run").textContent = data.active_run_id ?? "none yet";
      table.dataset.updated = new Date().toISOString();
    } catch (err) {
      table.dataset.error = String(err);
    } finally {
      setTimeout(refresh, POLL_MS);
    }
  }
  setTimeout(refresh, POLL_MS);
})();
