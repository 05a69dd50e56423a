// A job's page, live: its events over server-sent events (state, messages, training metrics), the
// loss curve drawn as steps arrive, tokens/s and ETA, checkpoints, and cancel.
"use strict";

(function () {
  const root = document.getElementById("job");
  if (!root) return;
  const jobId = root.dataset.job;
  const kind = root.dataset.kind;
  const list = document.getElementById("events");
  const stateBadge = document.getElementById("job-state");
  const live = document.getElementById("live-status");
  const chartSvg = document.getElementById("loss-chart");
  const chart = chartSvg ? new LineChart(chartSvg, {title: "loss", xLabel: "step"}) : null;
  const terminal = new Set(["succeeded", "failed", "cancelled"]);
  const saveEvery = Number(root.dataset.saveEvery || 0);
  let lastId = 0;
  let source = null;

  const setText = (id, text) => { const n = document.getElementById(id); if (n) n.textContent = text; };

  function setState(state) {
    stateBadge.textContent = state;
    stateBadge.className = `badge ${state}`;
    const cancel = document.getElementById("cancel");
    if (cancel) cancel.hidden = terminal.has(state) || state === "cancelling";
  }

  function addEvent(event) {
    const when = new Date(event.created_at * 1000).toISOString().slice(11, 19);
    const item = GT.el("li", {class: event.level}, GT.el("span", {class: "muted"}, when + " "), event.message);
    list.appendChild(item);
    while (list.children.length > 300) list.removeChild(list.firstChild);
    list.parentElement.scrollTop = list.parentElement.scrollHeight;
    setText("event-count", String(Number(document.getElementById("event-count").textContent) + 1));
  }

  function metrics(event) {
    const data = event.data || {};
    const m = data.metrics || {};
    const step = m.step !== undefined ? m.step : data.done;
    if (chart && typeof m.loss === "number") chart.add("train loss", "#1f77b4", step, m.loss);
    if (chart && typeof m.val_loss === "number") chart.add("validation loss", "#d9822b", step, m.val_loss);
    if (typeof m.tokens_per_s === "number") setText("tokens-per-s", GT.fmt(m.tokens_per_s, 1));
    if (typeof m.eta_s === "number") setText("eta", GT.duration(m.eta_s));
    if (typeof m.loss === "number") setText("last-loss", GT.fmt(m.loss, 4));
    if (typeof m.lr === "number") setText("lr", m.lr.toExponential(2));
    if (data.total) {
      setText("progress", `${data.done} / ${data.total}` + (data.stage ? ` (${data.stage})` : ""));
      const bar = document.getElementById("progress-bar");
      if (bar) { bar.max = data.total; bar.value = data.done; }
    }
  }

  const when = (t) => (t ? new Date(t * 1000).toISOString().replace("T", " ").slice(0, 19) : "–");

  async function refresh() {
    const job = await GT.api("GET", `/v1/jobs/${jobId}`);
    setState(job.state);
    setText("started", when(job.started_at));
    setText("finished-at", when(job.finished_at));
    setText("attempts", String(job.attempts));
    if (terminal.has(job.state)) {
      live.textContent = `Finished: ${job.state}.`;
      const done = document.getElementById("finished");
      if (done) done.hidden = false;
      if (job.error) GT.showError("job-error", {message: job.error.message});
      if (job.state === "succeeded" && job.resource && root.dataset.madeBase) {
        const link = document.getElementById("made-link");
        link.href = root.dataset.madeBase + encodeURIComponent(job.resource);
        link.textContent = job.resource;
        link.parentElement.hidden = false;
      }
    }
    if (kind === "fine_tuning") await checkpoints();
  }

  async function checkpoints() {
    const table = document.getElementById("checkpoints");
    if (!table) return;
    const page = await GT.api("GET", `/v1/fine_tuning/jobs/${jobId}/checkpoints?limit=100`);
    const body = table.querySelector("tbody");
    body.replaceChildren(...page.data.map((c) => GT.el("tr", {},
      GT.el("td", {}, c.id), GT.el("td", {class: "num"}, c.step_number),
      GT.el("td", {class: "num"}, GT.fmt(c.metrics.loss, 4)),
      GT.el("td", {}, new Date(c.created_at * 1000).toISOString().replace("T", " ").slice(0, 19)))));
    setText("checkpoint-count", String(page.data.length));
  }

  function follow() {
    source = new EventSource(`/v1/jobs/${jobId}/events?stream=true`);
    live.textContent = "Following live…";
    source.onmessage = async (message) => {
      if (message.data === "[DONE]") {
        source.close();
        await refresh();
        return;
      }
      const event = JSON.parse(message.data);
      if (event.id <= lastId) return; // a reconnect replays from the start: keep each event once
      lastId = event.id;
      addEvent(event);
      if (event.type === "state" && event.data && event.data.state) {
        setState(event.data.state);
        if (event.data.state === "running") refresh();
      }
      if (event.type === "progress" || event.type === "metrics") {
        metrics(event);
        const step = (event.data || {}).done;
        if (kind === "fine_tuning" && saveEvery && step && step % saveEvery === 0) checkpoints();
      }
    };
    source.onerror = () => { live.textContent = "Connection lost; reconnecting…"; };
  }

  const cancel = document.getElementById("cancel");
  if (cancel) {
    cancel.addEventListener("click", async () => {
      cancel.disabled = true;
      try {
        const job = await GT.api("POST", `/v1/jobs/${jobId}/cancel`);
        setState(job.state);
      } catch (err) {
        GT.showError("job-error", err);
      } finally {
        cancel.disabled = false;
      }
    });
  }
  follow();
})();
