// The Lamport diagram. Data (embedded as JSON in #data, made by
// src/bench/report/trace.rs):
//   lanes: [[label, "node"|"service"|"client"]]
//   types: [message type names]
//   msgs:  [[id, srcLane, destLane, sentUs, recvUs (-1: never), typeIndex, opInvokeIndex (-1: none)]]
//   bodies: [{src, dest, body}] (same order as msgs)
//   ops:   [{i: invoke index, c: completion index, p: process, f, t: ok|info|fail|open,
//            s: startUs, e: endUs|null, lane, client, v, r, err, m: [message ids]}]
//   faults: [{s, e, label, detail}]; end: last time (µs); anomalies: [{kind, title, ops, msgs, missing}]
// Drawn on one canvas: every frame walks the filtered messages once and
// strokes one path per message type, so filtering and zooming cost a few
// milliseconds even for 60 000 messages. Timings go to #perf as JSON.
(function () {
  "use strict";
  const tStart = performance.now();
  const D = readData();
  if (!D) return;
  const tParsed = performance.now();

  const N = D.msgs.length, L = D.lanes.length;
  const mid = new Float64Array(N), msrc = new Int32Array(N), mdst = new Int32Array(N);
  const ms = new Float64Array(N), mr = new Float64Array(N), mtype = new Int32Array(N), mop = new Int32Array(N);
  const posOfId = new Map();
  for (let i = 0; i < N; i++) {
    const m = D.msgs[i];
    mid[i] = m[0]; msrc[i] = m[1]; mdst[i] = m[2]; ms[i] = m[3]; mr[i] = m[4]; mtype[i] = m[5]; mop[i] = m[6];
    posOfId.set(m[0], i);
  }
  const opOfEntry = new Map();
  D.ops.forEach((o, k) => { opOfEntry.set(o.i, k); if (o.c !== null && o.c !== undefined) opOfEntry.set(o.c, k); });
  const typeColor = D.types.map((_, i) => hue(i));
  const OUTCOME = { ok: "#6DB6FE", info: "#FFA400", fail: "#FF1E90", open: "#bbb" };
  const TOP = 26, LEFT = 58;

  const state = { node: -1, type: -1, op: -1, q: "", anomaly: -1, sel: -1 };
  const visible = new Uint8Array(N).fill(1);
  const hl = new Uint8Array(N);
  let nVisible = N, texts = null, hover = -1, nDrawn = 0;

  const stage = document.getElementById("stage"), canvas = document.getElementById("canvas");
  let W = 0, H = 0, ctx = null;
  const view = new View(D.end, Math.max(stage.clientHeight, 400), TOP);
  function laneW() { return Math.max(26, (W - LEFT - 8) / Math.max(L, 1)); }
  function laneX(l) { return LEFT + view.dx + l * laneW() + laneW() / 2; }
  function resize() {
    W = Math.max(stage.clientWidth, 300); H = Math.max(stage.clientHeight, 300);
    ctx = sizeCanvas(canvas, W, H);
  }

  // ---- filtering -------------------------------------------------------
  function applyFilter() {
    const q = state.q.toLowerCase();
    if (q && !texts) texts = D.bodies.map(b => JSON.stringify(b).toLowerCase());
    const opMsgs = state.op >= 0 ? new Set(D.ops[state.op].m) : null;
    let n = 0;
    for (let i = 0; i < N; i++) {
      let v = 1;
      if (state.node >= 0 && msrc[i] !== state.node && mdst[i] !== state.node) v = 0;
      else if (state.type >= 0 && mtype[i] !== state.type) v = 0;
      else if (opMsgs && !opMsgs.has(mid[i])) v = 0;
      else if (q && texts[i].indexOf(q) < 0) v = 0;
      visible[i] = v; n += v;
    }
    nVisible = n;
    document.getElementById("count").textContent = n + " of " + N + " messages";
  }

  // ---- drawing ---------------------------------------------------------
  function drawFaults(ta, tb) {
    ctx.font = "10px sans-serif";
    for (const f of D.faults) {
      const s = f.s, e = f.e === null || f.e === undefined ? D.end : f.e;
      if (e < ta || s > tb) continue;
      const y1 = Math.max(view.y(s), TOP), y2 = Math.min(view.y(e), H);
      ctx.fillStyle = "rgba(0,0,0,0.05)"; ctx.fillRect(0, y1, W, y2 - y1);
      ctx.fillStyle = "#555"; ctx.fillText(f.label, 2, y1 + 11);
      const grudge = Array.isArray(f.detail) && f.detail[1] && typeof f.detail[1] === "object" ? f.detail[1] : null;
      if (!grudge) continue;
      const groups = new Map();
      for (let l = 0; l < L; l++) {
        const g = grudge[D.lanes[l][0]];
        if (!g) continue;
        const key = JSON.stringify([...g].sort());
        if (!groups.has(key)) groups.set(key, groups.size);
        ctx.fillStyle = hue(groups.get(key) + 3).replace("hsl", "hsla").replace(")", ",0.35)");
        ctx.fillRect(laneX(l) - 4, y1, 8, y2 - y1);
      }
    }
  }
  function drawOps(ta, tb) {
    for (let k = 0; k < D.ops.length; k++) {
      const o = D.ops[k];
      if (o.lane < 0) continue;
      const e = o.e === null || o.e === undefined ? D.end : o.e;
      if (e < ta || o.s > tb) continue;
      const x = laneX(o.lane), y1 = view.y(o.s), y2 = Math.max(view.y(e), y1 + 2);
      ctx.fillStyle = OUTCOME[o.t] || "#bbb";
      ctx.fillRect(x - 9, y1, 5, y2 - y1);
      if (k === state.op) { ctx.strokeStyle = "#000"; ctx.lineWidth = 1.5; ctx.strokeRect(x - 10, y1 - 1, 7, y2 - y1 + 2); }
    }
  }
  function endpoints(i) {
    const x1 = laneX(msrc[i]), y1 = view.y(ms[i]);
    if (mr[i] < 0) { const x2 = x1 + (laneX(mdst[i]) - x1) * 0.45; return [x1, y1, x2, y1 + 14, true]; }
    return [x1, y1, laneX(mdst[i]), view.y(mr[i]), false];
  }
  function arrowHead(path, x1, y1, x2, y2, size) {
    const a = Math.atan2(y2 - y1, x2 - x1);
    path.moveTo(x2, y2);
    path.lineTo(x2 - size * Math.cos(a - 0.4), y2 - size * Math.sin(a - 0.4));
    path.lineTo(x2 - size * Math.cos(a + 0.4), y2 - size * Math.sin(a + 0.4));
    path.closePath();
  }
  // Two short strokes: an open arrowhead, added to the message's own path.
  // (Filled heads cost a fill of one path with thousands of contours,
  // which software rasterizers do slowly; strokes stay cheap.)
  function openHead(path, x1, y1, x2, y2, size) {
    const a = Math.atan2(y2 - y1, x2 - x1);
    path.moveTo(x2 - size * Math.cos(a - 0.45), y2 - size * Math.sin(a - 0.45));
    path.lineTo(x2, y2);
    path.lineTo(x2 - size * Math.cos(a + 0.45), y2 - size * Math.sin(a + 0.45));
  }
  // One stroked path per message type, whatever the number of messages:
  // a few canvas calls per frame. Heads only when few enough messages are
  // visible for them to be seen.
  function drawMessages(ta, tb) {
    const paths = new Array(D.types.length);
    const lost = new Path2D();
    let n = 0;
    const detailed = nVisible < 4000;
    for (let i = 0; i < N; i++) {
      if (!visible[i]) continue;
      const s = ms[i], r = mr[i] < 0 ? s : mr[i];
      if (r < ta || s > tb) continue;
      const p = endpoints(i);
      n++;
      if (p[4]) { lost.moveTo(p[0], p[1]); lost.lineTo(p[2], p[3]); continue; }
      const t = mtype[i];
      const path = paths[t] || (paths[t] = new Path2D());
      path.moveTo(p[0], p[1]); path.lineTo(p[2], p[3]);
      if (detailed) openHead(path, p[0], p[1], p[2], p[3], 6);
    }
    nDrawn = n;
    ctx.lineWidth = 1;
    for (let t = 0; t < paths.length; t++) if (paths[t]) { ctx.strokeStyle = typeColor[t]; ctx.stroke(paths[t]); }
    ctx.strokeStyle = "#d00"; ctx.setLineDash([4, 3]); ctx.stroke(lost); ctx.setLineDash([]);
  }
  function drawMarked(ta, tb) {
    for (let i = 0; i < N; i++) {
      if (!hl[i] && i !== state.sel && i !== hover) continue;
      const s = ms[i], r = mr[i] < 0 ? s : mr[i];
      if (r < ta || s > tb) continue;
      const p = endpoints(i);
      ctx.lineWidth = i === state.sel ? 3 : 2.2;
      ctx.strokeStyle = i === state.sel ? "#000" : i === hover ? "#333" : hl[i] === 2 ? "#d00" : "#f08c00";
      ctx.beginPath(); ctx.moveTo(p[0], p[1]); ctx.lineTo(p[2], p[3]); ctx.stroke();
      if (p[4]) {
        ctx.beginPath(); ctx.moveTo(p[2] - 5, p[3] - 5); ctx.lineTo(p[2] + 5, p[3] + 5);
        ctx.moveTo(p[2] + 5, p[3] - 5); ctx.lineTo(p[2] - 5, p[3] + 5); ctx.stroke();
      } else { const h = new Path2D(); arrowHead(h, p[0], p[1], p[2], p[3], 8); ctx.fillStyle = ctx.strokeStyle; ctx.fill(h); }
    }
    ctx.lineWidth = 1;
  }
  function drawHeader() {
    ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, W, TOP);
    ctx.strokeStyle = "#ccc"; ctx.beginPath(); ctx.moveTo(0, TOP - 0.5); ctx.lineTo(W, TOP - 0.5); ctx.stroke();
    ctx.font = "11px sans-serif"; ctx.textAlign = "center";
    for (let l = 0; l < L; l++) {
      const x = laneX(l);
      if (x < LEFT - 20 || x > W + 20) continue;
      ctx.fillStyle = l === state.node ? "#c0122c" : D.lanes[l][1] === "node" ? "#111" : D.lanes[l][1] === "service" ? "#7048e8" : "#777";
      let label = D.lanes[l][0];
      if (label.length * 6 > laneW()) label = label.split(" ")[0] + (label.indexOf(" ") > 0 ? "…" : "");
      ctx.fillText(label, x, 16);
    }
    ctx.textAlign = "start";
  }
  function draw() {
    const t0 = performance.now();
    ctx.clearRect(0, 0, W, H);
    const ta = view.t(TOP), tb = view.t(H);
    drawFaults(ta, tb);
    drawTicks(ctx, view, H, W);
    ctx.strokeStyle = "#ddd"; ctx.lineWidth = 1; ctx.beginPath();
    for (let l = 0; l < L; l++) { const x = Math.round(laneX(l)) + 0.5; ctx.moveTo(x, TOP); ctx.lineTo(x, H); }
    ctx.stroke();
    drawOps(ta, tb);
    drawMessages(ta, tb);
    drawMarked(ta, tb);
    drawHeader();
    return performance.now() - t0;
  }
  let pending = false;
  function redraw() { if (!pending) { pending = true; requestAnimationFrame(() => { pending = false; draw(); }); } }

  // ---- picking, tooltip, details ---------------------------------------
  function nearest(x, y) {
    const ta = view.t(y - 40), tb = view.t(y + 40);
    let best = -1, bd = 36;
    for (let i = 0; i < N; i++) {
      if (!visible[i]) continue;
      const r = mr[i] < 0 ? ms[i] : mr[i];
      if (r < ta && ms[i] < ta || ms[i] > tb) continue;
      const p = endpoints(i);
      const dx = p[2] - p[0], dy = p[3] - p[1], len2 = dx * dx + dy * dy;
      const u = len2 ? Math.max(0, Math.min(1, ((x - p[0]) * dx + (y - p[1]) * dy) / len2)) : 0;
      const ex = p[0] + u * dx - x, ey = p[1] + u * dy - y, d = ex * ex + ey * ey;
      if (d < bd) { bd = d; best = i; }
    }
    return best;
  }
  function summary(i) {
    const b = D.bodies[i];
    return "#" + mid[i] + " " + b.src + " → " + b.dest + "  " + D.types[mtype[i]] + "\nsent " + fmtTime(ms[i]) + ", " +
      (mr[i] < 0 ? "never delivered" : "delivered " + fmtTime(mr[i]) + " (" + fmtTime(mr[i] - ms[i]) + ")");
  }
  const tip = document.getElementById("tip");
  canvas.addEventListener("mousemove", e => {
    const r = canvas.getBoundingClientRect();
    const i = nearest(e.clientX - r.left, e.clientY - r.top);
    if (i !== hover) { hover = i; redraw(); }
    if (i < 0) { tip.style.display = "none"; return; }
    let body = JSON.stringify(D.bodies[i].body);
    if (body.length > 400) body = body.slice(0, 400) + "…";
    tip.textContent = summary(i) + "\n" + body;
    tip.style.display = "block";
    tip.style.left = Math.min(e.clientX + 14, window.innerWidth - 530) + "px";
    tip.style.top = (e.clientY + 14) + "px";
  });
  canvas.addEventListener("mouseleave", () => { tip.style.display = "none"; hover = -1; redraw(); });
  canvas.addEventListener("click", e => {
    if (canvas.dataset.dragged) { canvas.dataset.dragged = ""; return; }
    const r = canvas.getBoundingClientRect();
    const i = nearest(e.clientX - r.left, e.clientY - r.top);
    if (i >= 0) selectMsg(i, false);
  });
  function opLabel(k) {
    const o = D.ops[k];
    return "op " + o.i + ": process " + o.p + " " + o.f + " " + JSON.stringify(o.v) + " → " + o.t +
      (o.t === "open" ? "" : " " + JSON.stringify(o.r)) + (o.err ? " (" + JSON.stringify(o.err) + ")" : "");
  }
  function selectMsg(i, center) {
    state.sel = i;
    const b = D.bodies[i];
    let html = "<p>" + esc(summary(i)).replace("\n", "<br>") + "</p>";
    if (mr[i] < 0) html += "<p class=missing>never delivered</p>";
    if (mop[i] >= 0 && opOfEntry.has(mop[i])) html += "<p><a href='#op=" + mop[i] + "'>" + esc(opLabel(opOfEntry.get(mop[i]))) + "</a></p>";
    html += "<p><a href='#node=" + encodeURIComponent(b.src) + "'>only " + esc(b.src) + "</a> · <a href='#node=" + encodeURIComponent(b.dest) + "'>only " + esc(b.dest) + "</a></p>";
    html += "<pre class=body>" + esc(JSON.stringify(b.body, null, 1)) + "</pre>";
    document.getElementById("detail").innerHTML = html;
    if (center) view.show(ms[i], mr[i] < 0 ? ms[i] : mr[i], H);
    redraw();
  }
  function showOp(k) {
    const o = D.ops[k];
    let html = "<p>" + esc(opLabel(k)) + "<br>invoked " + fmtTime(o.s) + (o.e === null ? ", never completed" : ", completed " + fmtTime(o.e)) +
      (o.client ? " on client " + esc(o.client) : ", sent no message") + "</p><ol>";
    for (const id of o.m) { const i = posOfId.get(id); if (i !== undefined) html += "<li><a href='#msg=" + id + "'>" + esc(summary(i)) + "</a></li>"; }
    document.getElementById("detail").innerHTML = html + "</ol>";
    if (o.m.length) { const is = o.m.map(id => posOfId.get(id)).filter(i => i !== undefined); view.show(Math.min(...is.map(i => ms[i])), Math.max(...is.map(i => mr[i] < 0 ? ms[i] : mr[i])), H); }
    else view.show(o.s, o.e === null ? o.s : o.e, H);
  }

  // ---- anomalies -------------------------------------------------------
  function renderAnomalies() {
    const box = document.getElementById("anomalies");
    if (!D.anomalies || !D.anomalies.length) { box.textContent = D.valid === false ? "invalid, but no anomaly with operations to show (see results.json)" : "none reported"; return; }
    let html = "<ol>";
    D.anomalies.forEach((a, k) => {
      html += "<li data-k='" + k + "'" + (k === state.anomaly ? " class=active" : "") + "><a href='#anomaly=" + k + "'>" + esc(a.title) + "</a> <small>(" + a.ops.length + " ops, " + a.msgs.length + " msgs" + (a.missing.length ? ", <span class=missing>" + a.missing.length + " never delivered</span>" : "") + ")</small></li>";
    });
    box.innerHTML = html + "</ol>";
  }
  function showAnomaly(k) {
    const a = D.anomalies[k];
    if (!a) return;
    state.anomaly = k; hl.fill(0);
    const missing = new Set(a.missing);
    let tmin = Infinity, tmax = -Infinity;
    for (const id of a.msgs) { const i = posOfId.get(id); if (i === undefined) continue; hl[i] = missing.has(id) ? 2 : 1; tmin = Math.min(tmin, ms[i]); tmax = Math.max(tmax, mr[i] < 0 ? ms[i] : mr[i]); }
    let html = "<p><b>" + esc(a.title) + "</b></p>";
    if (a.missing.length) {
      html += "<p class=missing>never delivered:</p><ol>";
      for (const id of a.missing) { const i = posOfId.get(id); if (i !== undefined) html += "<li><a class=missing href='#msg=" + id + "'>" + esc(summary(i)) + "</a></li>"; }
      html += "</ol>";
    }
    html += "<p>operations:</p><ol>";
    for (const e of a.ops) { const k2 = opOfEntry.get(e); html += "<li><a href='#op=" + e + "'>" + esc(k2 === undefined ? "entry " + e : opLabel(k2)) + "</a></li>"; }
    html += "</ol><p>messages (" + a.msgs.length + "):</p><ol>";
    for (const id of a.msgs.slice(0, 200)) { const i = posOfId.get(id); if (i !== undefined) html += "<li><a href='#msg=" + id + "'" + (missing.has(id) ? " class=missing" : "") + ">" + esc(summary(i)) + "</a></li>"; }
    document.getElementById("detail").innerHTML = html + "</ol>";
    if (tmin <= tmax) view.show(tmin, tmax, H);
    renderAnomalies();
  }

  // ---- controls and the hash -------------------------------------------
  const selNode = document.getElementById("f-node"), selType = document.getElementById("f-type");
  const inOp = document.getElementById("f-op"), inQ = document.getElementById("f-search");
  D.lanes.forEach((l, i) => { const o = document.createElement("option"); o.value = String(i); o.textContent = l[0]; selNode.appendChild(o); });
  D.types.forEach((t, i) => { const o = document.createElement("option"); o.value = String(i); o.textContent = t; selType.appendChild(o); });
  const legend = document.getElementById("legend");
  legend.innerHTML = D.types.slice(0, 12).map((t, i) => "<span style='background:" + typeColor[i] + "'></span>" + esc(t)).join("");
  function laneByName(name) { return D.lanes.findIndex(l => l[0] === name || l[0].split(" ").indexOf(name) >= 0); }
  function writeHash() {
    setHash({
      node: state.node >= 0 ? D.lanes[state.node][0].split(" ")[0] : "", type: state.type >= 0 ? D.types[state.type] : "",
      op: state.op >= 0 ? D.ops[state.op].i : "", q: state.q, anomaly: state.anomaly >= 0 ? state.anomaly : "",
      msg: state.sel >= 0 ? mid[state.sel] : "",
    });
  }
  function syncControls() {
    selNode.value = state.node >= 0 ? String(state.node) : ""; selType.value = state.type >= 0 ? String(state.type) : "";
    inOp.value = state.op >= 0 ? String(D.ops[state.op].i) : ""; inQ.value = state.q;
  }
  function fromHash() {
    const h = parseHash();
    state.node = h.node ? laneByName(h.node) : -1;
    state.type = h.type ? D.types.indexOf(h.type) : -1;
    state.op = h.op !== undefined && opOfEntry.has(Number(h.op)) ? opOfEntry.get(Number(h.op)) : -1;
    state.q = h.q || "";
    syncControls();
    applyFilter();
    if (h.anomaly !== undefined) showAnomaly(Number(h.anomaly)); else { state.anomaly = -1; hl.fill(0); renderAnomalies(); }
    if (state.op >= 0) showOp(state.op);
    if (h.msg !== undefined && posOfId.has(Number(h.msg))) selectMsg(posOfId.get(Number(h.msg)), true);
    redraw();
  }
  function controlsChanged() {
    state.node = selNode.value === "" ? -1 : Number(selNode.value);
    state.type = selType.value === "" ? -1 : Number(selType.value);
    const e = inOp.value.trim();
    state.op = e !== "" && opOfEntry.has(Number(e)) ? opOfEntry.get(Number(e)) : -1;
    state.q = inQ.value.trim();
    applyFilter();
    if (state.op >= 0) showOp(state.op);
    writeHash(); redraw();
  }
  selNode.addEventListener("change", controlsChanged);
  selType.addEventListener("change", controlsChanged);
  inOp.addEventListener("change", controlsChanged);
  inQ.addEventListener("keydown", e => { if (e.key === "Enter") controlsChanged(); });
  document.getElementById("clear").addEventListener("click", () => {
    state.node = state.type = state.op = state.anomaly = state.sel = -1; state.q = ""; hl.fill(0);
    syncControls(); applyFilter(); view.fit(H); renderAnomalies(); writeHash(); redraw();
  });
  window.addEventListener("hashchange", fromHash);
  window.addEventListener("resize", () => { resize(); redraw(); });
  attachView(canvas, view, redraw, () => Math.max(0, L * laneW() + LEFT - W));

  const verdict = document.getElementById("verdict");
  verdict.textContent = "valid? " + JSON.stringify(D.valid);
  verdict.className = "valid-" + String(D.valid);
  if (D.skipped && D.skipped.length) recordError("left out unreadable lines: " + JSON.stringify(D.skipped));

  // ---- first paint and the self-measurement ------------------------------
  resize(); view.fit(H); fromHash();
  const firstDraw = draw();
  ctx.getImageData(0, 0, 1, 1); // force the raster so the figure includes it
  const perf = { messages: N, lanes: L, parse_ms: tParsed - tStart, first_draw_ms: firstDraw, load_ms: performance.now() };
  if ("selftest" in parseHash()) {
    const node = Math.max(0, D.lanes.findIndex(l => l[1] === "node"));
    const before = nVisible;
    let t = performance.now();
    state.node = node; applyFilter(); draw(); ctx.getImageData(0, 0, 1, 1);
    perf.filter_node_ms = performance.now() - t; perf.filter_node = D.lanes[node][0];
    perf.visible_before = before; perf.visible_after_node = nVisible; perf.drawn_after_node = nDrawn;
    t = performance.now();
    state.node = -1; state.type = 0; applyFilter(); draw();
    perf.filter_type_ms = performance.now() - t; perf.visible_after_type = nVisible;
    t = performance.now();
    state.type = -1; state.q = D.types[0]; applyFilter(); draw();
    perf.search_ms = performance.now() - t; perf.visible_after_search = nVisible;
    state.q = ""; applyFilter(); draw();
    perf.visible_after_reset = nVisible;
    const inDom = [];
    for (let k = 0; k < (D.anomalies || []).length; k++) { showAnomaly(k); inDom.push(document.querySelectorAll("#detail a").length); }
    perf.anomaly_links = inDom;
  }
  document.getElementById("perf").textContent = JSON.stringify(perf);
  document.body.dataset.ready = "1";
})();
