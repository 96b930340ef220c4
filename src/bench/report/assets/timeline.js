// Jepsen's timeline (jepsen: src/jepsen/checker/timeline.clj) on a canvas:
// one column per process, one bar per operation from invocation to
// completion; Jepsen places bars by history index, we place them by time
// (zoomable), so concurrency and latency read directly. Data: {title,
// valid, ops: [{i, c, p, f, t, s, e, client, v, r, err}], faults, end}.
(function () {
  "use strict";
  const tStart = performance.now();
  const D = readData();
  if (!D) return;
  const COLOR = { ok: "#6DB6FE", info: "#FEB5DA", fail: "#FFAA26", open: "#ddd" };
  const TOP = 26, LEFT = 58;
  const procs = [...new Set(D.ops.map(o => o.p))].sort((a, b) => a - b);
  const col = new Map(procs.map((p, i) => [p, i]));
  const fs = [...new Set(D.ops.map(o => o.f))].sort();
  const state = { f: "", t: "", sel: -1 };
  const shown = new Uint8Array(D.ops.length).fill(1);
  let nShown = D.ops.length;
  const stage = document.getElementById("stage"), canvas = document.getElementById("canvas");
  let W = 0, H = 0, ctx = null;
  const view = new View(D.end, Math.max(stage.clientHeight, 400), TOP);
  function colW() { return Math.min(100, Math.max(14, (W - LEFT - 8) / Math.max(procs.length, 1))); }
  function colX(p) { return LEFT + view.dx + col.get(p) * colW(); }
  function end(o) { return o.t === "info" || o.e === null || o.e === undefined ? D.end : o.e; }
  function resize() { W = Math.max(stage.clientWidth, 300); H = Math.max(stage.clientHeight, 300); ctx = sizeCanvas(canvas, W, H); }
  function applyFilter() {
    let n = 0;
    D.ops.forEach((o, k) => { const v = (!state.f || o.f === state.f) && (!state.t || o.t === state.t) ? 1 : 0; shown[k] = v; n += v; });
    nShown = n;
    document.getElementById("count").textContent = n + " of " + D.ops.length + " operations";
  }
  function draw() {
    const t0 = performance.now();
    ctx.clearRect(0, 0, W, H);
    const ta = view.t(TOP), tb = view.t(H), w = colW();
    ctx.font = "10px sans-serif";
    for (const f of D.faults) {
      const e = f.e === null || f.e === undefined ? D.end : f.e;
      if (e < ta || f.s > tb) continue;
      const y1 = Math.max(view.y(f.s), TOP), y2 = Math.min(view.y(e), H);
      ctx.fillStyle = "rgba(0,0,0,0.06)"; ctx.fillRect(0, y1, W, y2 - y1);
      ctx.fillStyle = "#555"; ctx.fillText(f.label, 2, y1 + 11);
    }
    drawTicks(ctx, view, H, W);
    for (let k = 0; k < D.ops.length; k++) {
      if (!shown[k]) continue;
      const o = D.ops[k], e = end(o);
      if (e < ta || o.s > tb) continue;
      const x = colX(o.p), y1 = view.y(o.s), y2 = Math.max(view.y(e), y1 + 2);
      ctx.fillStyle = COLOR[o.t] || "#ddd";
      ctx.fillRect(x + 1, y1, w - 3, y2 - y1);
      if (y2 - y1 > 13 && w > 40) {
        ctx.fillStyle = "#123"; ctx.fillText((o.p + " " + o.f + " " + JSON.stringify(o.v)).slice(0, Math.floor(w / 5.5)), x + 3, y1 + 10);
      }
      if (k === state.sel) { ctx.strokeStyle = "#000"; ctx.lineWidth = 2; ctx.strokeRect(x + 1, y1, w - 3, y2 - y1); ctx.lineWidth = 1; }
    }
    ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, W, TOP);
    ctx.fillStyle = "#111"; ctx.font = "11px sans-serif"; ctx.textAlign = "center";
    for (const p of procs) { const x = colX(p) + w / 2; if (x > LEFT - 20 && x < W + 20) ctx.fillText(String(p), x, 16); }
    ctx.textAlign = "start";
    return performance.now() - t0;
  }
  let pending = false;
  function redraw() { if (!pending) { pending = true; requestAnimationFrame(() => { pending = false; draw(); }); } }
  function at(x, y) {
    const i = Math.floor((x - LEFT - view.dx) / colW());
    if (i < 0 || i >= procs.length) return -1;
    const p = procs[i], t = view.t(y), slack = 3 / view.scale;
    for (let k = 0; k < D.ops.length; k++) {
      const o = D.ops[k];
      if (shown[k] && o.p === p && o.s - slack <= t && t <= end(o) + slack) return k;
    }
    return -1;
  }
  function label(o) {
    return "op " + o.i + ": process " + o.p + " " + o.f + " " + JSON.stringify(o.v) + "\n→ " + o.t + " " + JSON.stringify(o.r) +
      (o.err ? "\nerror " + JSON.stringify(o.err) : "") + "\ninvoked " + fmtTime(o.s) +
      (o.e === null || o.e === undefined ? ", never completed" : ", latency " + fmtTime(o.e - o.s));
  }
  const tip = document.getElementById("tip");
  canvas.addEventListener("mousemove", e => {
    const r = canvas.getBoundingClientRect(), k = at(e.clientX - r.left, e.clientY - r.top);
    if (k < 0) { tip.style.display = "none"; return; }
    let s = label(D.ops[k]); if (s.length > 600) s = s.slice(0, 600) + "…";
    tip.textContent = s; tip.style.display = "block";
    tip.style.left = Math.min(e.clientX + 14, window.innerWidth - 530) + "px"; tip.style.top = (e.clientY + 14) + "px";
  });
  canvas.addEventListener("mouseleave", () => { tip.style.display = "none"; });
  canvas.addEventListener("click", e => {
    if (canvas.dataset.dragged) { canvas.dataset.dragged = ""; return; }
    const r = canvas.getBoundingClientRect(), k = at(e.clientX - r.left, e.clientY - r.top);
    if (k < 0) return;
    state.sel = k;
    const o = D.ops[k];
    document.getElementById("detail").innerHTML = "<pre class=body>" + esc(label(o)) + "</pre><p><a href='messages.html#op=" + o.i + "'>its messages in the diagram</a>" +
      (o.client ? " (client " + esc(o.client) + ")" : " (it sent none)") + "</p>";
    redraw();
  });
  const selF = document.getElementById("f-f"), selT = document.getElementById("f-t");
  fs.forEach(f => { const o = document.createElement("option"); o.textContent = f; selF.appendChild(o); });
  function changed() { state.f = selF.value; state.t = selT.value; applyFilter(); setHash({ f: state.f, t: state.t }); redraw(); }
  selF.addEventListener("change", changed); selT.addEventListener("change", changed);
  document.getElementById("clear").addEventListener("click", () => { selF.value = ""; selT.value = ""; view.fit(H); changed(); });
  window.addEventListener("resize", () => { resize(); redraw(); });
  attachView(canvas, view, redraw, () => Math.max(0, procs.length * colW() + LEFT - W));
  const verdict = document.getElementById("verdict");
  verdict.textContent = "valid? " + JSON.stringify(D.valid); verdict.className = "valid-" + String(D.valid);
  const h = parseHash();
  state.f = h.f || ""; state.t = h.t || ""; selF.value = state.f; selT.value = state.t;
  resize(); view.fit(H); applyFilter();
  const first = draw(); ctx.getImageData(0, 0, 1, 1);
  const perf = { ops: D.ops.length, processes: procs.length, first_draw_ms: first, load_ms: performance.now(), parse_start_ms: tStart };
  if ("selftest" in h) {
    const before = nShown, t = performance.now();
    state.f = fs[0] || ""; applyFilter(); draw(); ctx.getImageData(0, 0, 1, 1);
    perf.filter_ms = performance.now() - t; perf.filter_f = state.f; perf.shown_before = before; perf.shown_after_f = nShown;
    state.f = ""; applyFilter(); draw();
    perf.shown_after_reset = nShown;
  }
  document.getElementById("perf").textContent = JSON.stringify(perf);
  document.body.dataset.ready = "1";
})();
