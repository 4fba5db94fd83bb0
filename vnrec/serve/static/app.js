// The vnrec board: one snapshot (GET /api/snapshot), then per-channel pushes on /ws.
// `state` always has the snapshot's shape; a push replaces the fields it carries. Rendering
// is coalesced to one pass per animation frame, so any input rate costs at most one redraw
// per frame per section.
"use strict";
(() => {
  const TZ = "Asia/Ho_Chi_Minh";
  const token = new URLSearchParams(location.search).get("token");
  const authHeaders = token ? { Authorization: "Bearer " + token } : {};
  const timeFormat = new Intl.DateTimeFormat("en-GB", {
    timeZone: TZ, hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23",
  });
  const minuteFormat = new Intl.DateTimeFormat("en-GB", {
    timeZone: TZ, hour: "2-digit", minute: "2-digit", hourCycle: "h23",
  });
  const numberFormat = new Intl.NumberFormat("en-US", { maximumFractionDigits: 2 });
  const state = {};
  const dirty = new Set();
  let frame = 0;
  let sortKey = "value";
  let sortAscending = false;
  let filterText = "";
  const charts = {};

  const $ = (id) => document.getElementById(id);
  const escape = (text) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  const isNumber = (v) => typeof v === "number" && Number.isFinite(v);
  const fmt = (v) => (isNumber(v) ? numberFormat.format(v) : "");
  const fmtBillions = (v) => (isNumber(v) ? numberFormat.format(v / 1e9) + " bn" : "");
  const fmtTime = (iso) => (iso ? timeFormat.format(new Date(iso)) : "");
  const signClass = (v) => (!isNumber(v) || v === 0 ? "ref" : v > 0 ? "up" : "down");
  const cell = (field, value, text, cls = "num") =>
    `<td class="${cls}" data-field="${field}" data-value="${value === null || value === undefined ? "" : escape(value)}">${escape(text)}</td>`;

  function schedule(...sections) {
    for (const section of sections) dirty.add(section);
    if (!frame) frame = requestAnimationFrame(render);
  }

  function render() {
    frame = 0;
    const sections = [...dirty];
    dirty.clear();
    for (const section of sections) RENDER[section]();
  }

  // -- the market board ----------------------------------------------------------------

  function boardRows() {
    const reference = state.reference || {};
    const foreignNet = {};
    for (const row of state.foreign || []) foreignNet[row.symbol] = row.net_value;
    return (state.stats || []).map((s) => {
      const ref = reference[s.symbol];
      const change = isNumber(ref) ? s.close - ref : null;
      const active = s.buy_volume + s.sell_volume;
      return {
        ...s,
        ref,
        change,
        change_pct: isNumber(change) && ref ? (change / ref) * 100 : null,
        buy_share: active > 0 ? (s.buy_volume / active) * 100 : null,
        foreign_net: foreignNet[s.symbol] ?? null,
      };
    });
  }

  function renderBoard() {
    let rows = boardRows();
    const total = rows.length;
    if (filterText) rows = rows.filter((r) => r.symbol.includes(filterText));
    const direction = sortAscending ? 1 : -1;
    rows.sort((a, b) => {
      const x = a[sortKey], y = b[sortKey];
      if (x === y) return a.symbol < b.symbol ? -1 : 1;
      if (x === null || x === undefined) return 1;
      if (y === null || y === undefined) return -1;
      return (x < y ? -1 : 1) * direction;
    });
    const html = rows.map((r) => {
      const tone = signClass(r.change);
      return `<tr data-symbol="${escape(r.symbol)}">` +
        cell("symbol", r.symbol, r.symbol, tone) +
        cell("close", r.close, fmt(r.close), "num " + tone) +
        cell("change", r.change, fmt(r.change), "num " + tone) +
        cell("change_pct", r.change_pct, isNumber(r.change_pct) ? r.change_pct.toFixed(2) : "", "num " + tone) +
        cell("volume", r.volume, fmt(r.volume)) +
        cell("value", r.value, fmtBillions(r.value)) +
        cell("buy_volume", r.buy_volume, fmt(r.buy_volume), "num up") +
        cell("sell_volume", r.sell_volume, fmt(r.sell_volume), "num down") +
        cell("buy_share", r.buy_share, isNumber(r.buy_share) ? r.buy_share.toFixed(1) : "") +
        cell("foreign_net", r.foreign_net, fmtBillions(r.foreign_net), "num " + signClass(r.foreign_net)) +
        cell("trades", r.trades, fmt(r.trades)) +
        "</tr>";
    });
    document.querySelector("#board tbody").innerHTML = html.join("");
    $("board-count").textContent = `${rows.length} of ${total} symbols`;
    for (const th of document.querySelectorAll("#board th")) {
      th.classList.toggle("sorted", th.dataset.key === sortKey);
      th.classList.toggle("asc", th.dataset.key === sortKey && sortAscending);
    }
  }

  // -- charts (uPlot, times in Vietnam) ------------------------------------------------

  function lineChart(id, lines, yLabel) {
    const element = $(id);
    const xs = [...new Set(lines.flatMap((l) => l.t))].sort((a, b) => a - b);
    const data = [xs, ...lines.map((l) => {
      const at = new Map(l.t.map((t, i) => [t, l.y[i]]));
      return xs.map((t) => (at.has(t) ? at.get(t) : null));
    })];
    const key = lines.map((l) => l.label).join("|");
    const existing = charts[id];
    if (existing && existing.key === key) {
      existing.plot.setData(data);
      return;
    }
    if (existing) existing.plot.destroy();
    const palette = ["#4aa3ff", "#e2b93b", "#2fbf71", "#e5484d", "#b07cff", "#8593a0"];
    const options = {
      width: Math.max(300, element.clientWidth),
      height: 200,
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), TZ),
      scales: { x: { time: true } },
      axes: [
        {
          stroke: "#8593a0", grid: { stroke: "#26313b" }, ticks: { stroke: "#26313b" },
          values: (u, splits) => splits.map((t) => minuteFormat.format(new Date(t * 1e3))),
        },
        { stroke: "#8593a0", grid: { stroke: "#26313b" }, ticks: { stroke: "#26313b" }, label: yLabel, size: 60 },
      ],
      series: [{}, ...lines.map((l, i) => ({
        label: l.label, stroke: palette[i % palette.length], width: l.bold ? 2.5 : 1, spanGaps: true,
      }))],
    };
    charts[id] = { key, plot: new uPlot(options, data, element) };
  }

  function renderBasis() {
    const rows = state.basis || [];
    const series = state.basis_series || {};
    const front = new Set(rows.filter((r) => r.front).map((r) => r.symbol));
    const lines = Object.keys(series).sort().map((symbol) => ({
      label: front.has(symbol) ? `${symbol} (front)` : symbol,
      bold: front.has(symbol), t: series[symbol].t, y: series[symbol].basis,
    }));
    lineChart("basis-chart", lines, "basis");
    document.querySelector("#basis tbody").innerHTML = rows.map((r) =>
      `<tr data-symbol="${escape(r.symbol)}" class="${r.front ? "front" : ""}">` +
      cell("symbol", r.symbol, r.symbol, "") +
      cell("last_price", r.last_price, fmt(r.last_price)) +
      cell("last_index", r.last_index, fmt(r.last_index)) +
      cell("last_basis", r.last_basis, fmt(r.last_basis), "num " + signClass(r.last_basis)) +
      cell("last_basis_pct", r.last_basis_pct, isNumber(r.last_basis_pct) ? r.last_basis_pct.toFixed(3) : "") +
      cell("premium", r.premium, r.premium === null || r.premium === undefined ? "" : r.premium ? "premium" : "discount", "") +
      cell("min_basis", r.min_basis, fmt(r.min_basis)) +
      cell("max_basis", r.max_basis, fmt(r.max_basis)) +
      "</tr>").join("");
  }

  function renderIndex() {
    const rows = state.index || [];
    const series = state.index_series || {};
    const shown = series.VN30 ? "VN30" : Object.keys(series).sort()[0];
    lineChart("index-chart", shown ? [{ label: shown, bold: true, t: series[shown].t, y: series[shown].value }] : [], "");
    document.querySelector("#index tbody").innerHTML = rows.map((r) =>
      `<tr data-index="${escape(r.index_id)}">` +
      cell("index_id", r.index_id, r.index_id, "") +
      cell("value", r.value, fmt(r.value), "num " + signClass(r.change)) +
      cell("change", r.change, fmt(r.change), "num " + signClass(r.change)) +
      cell("ratio_change", r.ratio_change, fmt(r.ratio_change), "num " + signClass(r.change)) +
      cell("advances", r.advances, fmt(r.advances), "num up") +
      cell("declines", r.declines, fmt(r.declines), "num down") +
      cell("no_changes", r.no_changes, fmt(r.no_changes), "num ref") +
      cell("advance_ratio", r.advance_ratio, isNumber(r.advance_ratio) ? (r.advance_ratio * 100).toFixed(1) + "%" : "") +
      "</tr>").join("");
  }

  function renderForeign() {
    const rows = state.foreign_market || [];
    const market = rows.find((r) => r.group === "market") || {};
    $("foreign-market").innerHTML =
      `<span>Buy value<b>${fmtBillions(market.buy_value)}</b></span>` +
      `<span>Sell value<b>${fmtBillions(market.sell_value)}</b></span>` +
      `<span class="${signClass(market.net_value)}">Net value<b data-field="net_value" data-value="${market.net_value ?? ""}">${fmtBillions(market.net_value)}</b></span>` +
      `<span>Symbols<b>${fmt(market.symbols)}</b></span>`;
    const list = (group) => rows.filter((r) => r.group === group).map((r) =>
      `<tr data-symbol="${escape(r.symbol)}">${cell("symbol", r.symbol, r.symbol, "")}` +
      `${cell("net_value", r.net_value, fmtBillions(r.net_value), "num " + signClass(r.net_value))}</tr>`).join("");
    document.querySelector("#buyers tbody").innerHTML = list("buyer");
    document.querySelector("#sellers tbody").innerHTML = list("seller");
    schedule("stats"); // the board's foreign column
  }

  function renderAlerts() {
    const alerts = (state.alerts || []).slice(-200).reverse();
    $("alert-count").textContent = `(${fmt(state.alert_count ?? alerts.length)})`;
    document.querySelector("#alerts tbody").innerHTML = alerts.map((a) =>
      `<tr data-seq="${a.seq}">` + cell("event_ts", a.event_ts, fmtTime(a.event_ts), "") +
      cell("kind", a.kind, a.kind, "") + cell("symbol", a.symbol, a.symbol, "") +
      cell("value", a.value, fmt(a.value)) + cell("threshold", a.threshold, fmt(a.threshold)) +
      "</tr>").join("");
  }

  function renderStatus() {
    const s = state.status || {};
    $("day").textContent = s.date || "";
    $("mode").textContent = s.mode === "replay" ? `replay ${s.speed}x` : "live";
    const stateText = s.state === "failed" ? `failed: ${s.error}` : s.stale && s.mode === "live" ? `${s.state}, stale` : s.state;
    $("state").textContent = stateText || "";
    $("state").className = "pill " + (s.state === "failed" || (s.stale && s.mode === "live") ? "bad" : "good");
    const clock = s.mode === "replay" && s.state !== "finished" ? s.clock : s.last_event_ts;
    $("clock").textContent = clock ? fmtTime(clock) : "";
    $("controls").hidden = s.mode !== "replay";
    $("play").textContent = s.state === "paused" ? "Resume" : "Pause";
    const speed = $("speed");
    if (isNumber(s.speed) && document.activeElement !== speed) {
      const shown = String(s.speed);
      if (![...speed.options].some((o) => o.value === shown)) speed.add(new Option(shown, shown));
      speed.value = shown;
    }
    $("health").innerHTML =
      `<span>Messages<b data-field="events" data-value="${s.events ?? ""}">${fmt(s.events)}</b></span>` +
      `<span>Rate<b>${fmt(s.rate)} /s</b></span>` +
      `<span>Lag<b>${isNumber(s.lag_ms) ? (s.lag_ms / 1000).toFixed(1) + " s" : "-"}</b></span>` +
      `<span>Last event<b>${fmtTime(s.last_event_ts)}</b></span>` +
      `<span>Gaps<b>${(s.gaps || []).length}</b></span>`;
    document.querySelector("#gaps tbody").innerHTML = (s.gaps || []).map((g) =>
      `<tr>${cell("start", g.start, fmtTime(g.start), "")}${cell("end", g.end, fmtTime(g.end), "")}` +
      `${cell("seconds", g.seconds, fmt(g.seconds))}${cell("reason", g.reason, g.reason, "")}</tr>`).join("");
  }

  const RENDER = {
    stats: renderBoard, foreign: renderForeign, index: renderIndex, basis: renderBasis,
    alerts: renderAlerts, status: renderStatus,
  };

  // -- data ------------------------------------------------------------------------------

  async function control(body) {
    const response = await fetch("/api/control", {
      method: "POST", headers: { ...authHeaders, "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    if (response.ok) {
      state.status = await response.json();
      schedule("status");
    }
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const query = token ? `?token=${encodeURIComponent(token)}` : "";
    const socket = new WebSocket(`${scheme}://${location.host}/ws${query}`);
    socket.onmessage = (event) => {
      const message = JSON.parse(event.data);
      if (message.channel === "status") state.status = message.data;
      else Object.assign(state, message.data);
      state.pushes = (state.pushes || 0) + 1;
      schedule(message.channel);
    };
    socket.onclose = () => setTimeout(connect, 1000);
  }

  async function start() {
    const response = await fetch("/api/snapshot", { headers: authHeaders });
    if (!response.ok) {
      $("state").textContent = `cannot load: HTTP ${response.status}`;
      $("state").className = "pill bad";
      return;
    }
    Object.assign(state, await response.json());
    schedule(...Object.keys(RENDER));
    document.body.dataset.loaded = "true";
    connect();
  }

  for (const th of document.querySelectorAll("#board th")) {
    th.addEventListener("click", () => {
      if (sortKey === th.dataset.key) sortAscending = !sortAscending;
      else { sortKey = th.dataset.key; sortAscending = sortKey === "symbol"; }
      schedule("stats");
    });
  }
  $("filter").addEventListener("input", (e) => { filterText = e.target.value.trim().toUpperCase(); schedule("stats"); });
  $("play").addEventListener("click", () => control({ action: state.status && state.status.state === "paused" ? "resume" : "pause" }));
  $("speed").addEventListener("change", (e) => control({ action: "speed", speed: Number(e.target.value) }));
  $("go").addEventListener("click", () => control({ action: "jump", time: $("jump").value }));
  window.addEventListener("resize", () => {
    for (const id of Object.keys(charts)) charts[id].plot.setSize({ width: Math.max(300, $(id).clientWidth), height: 200 });
  });
  window.vnrecState = state; // for the end-to-end test and the curious
  start();
})();
