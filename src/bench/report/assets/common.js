// Shared by messages.html and timeline.html: time formatting, the
// vertical time view (zoom with the wheel, pan by dragging), the hash
// fragment, and error recording into the DOM (#errors) for tests.
"use strict";
function recordError(msg) {
  const ul = document.getElementById("errors");
  if (ul) { const li = document.createElement("li"); li.textContent = String(msg); ul.appendChild(li); }
}
// The page's embedded data (#data), or null after recording why it cannot
// be read; also records errors caught before the scripts ran.
function readData() {
  let d = null;
  try { d = JSON.parse(document.getElementById("data").textContent); }
  catch (e) { recordError("cannot read the embedded data: " + e); }
  (window.__early || []).forEach(recordError);
  return d;
}
function fmtTime(us) {
  if (us < 0) return "never";
  if (us < 1000) return us.toFixed(0) + " µs";
  if (us < 1e6) return (us / 1000).toFixed(us < 1e4 ? 2 : 1) + " ms";
  return (us / 1e6).toFixed(3) + " s";
}
function parseHash() {
  const out = {};
  for (const part of location.hash.replace(/^#/, "").split("&")) {
    if (!part) continue;
    const i = part.indexOf("=");
    const k = decodeURIComponent(i < 0 ? part : part.slice(0, i));
    out[k] = i < 0 ? "" : decodeURIComponent(part.slice(i + 1));
  }
  return out;
}
function setHash(obj) {
  const parts = [];
  for (const k of Object.keys(obj)) if (obj[k] !== undefined && obj[k] !== null && obj[k] !== "") parts.push(encodeURIComponent(k) + "=" + encodeURIComponent(obj[k]));
  history.replaceState(null, "", parts.length ? "#" + parts.join("&") : location.pathname + location.search);
}
function hue(i) { return "hsl(" + ((i * 137.508) % 360).toFixed(0) + ",62%,42%)"; }
function esc(s) { return String(s).replace(/[&<>"]/g, c => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]); }
// A view of time on the y axis: y = top + (t - t0) * scale; x is panned by dx.
function View(end, height, top) {
  this.top = top; this.end = Math.max(end, 1); this.dx = 0;
  this.fit(height);
}
View.prototype.fit = function (height) {
  this.t0 = 0; this.scale = Math.max((height - this.top - 10) / this.end, 1e-9);
};
View.prototype.y = function (t) { return this.top + (t - this.t0) * this.scale; };
View.prototype.t = function (y) { return this.t0 + (y - this.top) / this.scale; };
View.prototype.zoomAt = function (y, factor) {
  const t = this.t(y);
  this.scale = Math.min(Math.max(this.scale * factor, 1e-9), 50);
  this.t0 = t - (y - this.top) / this.scale;
};
View.prototype.show = function (ta, tb, height) {
  const span = Math.max(tb - ta, 1000);
  this.scale = Math.min((height - this.top - 40) / (span * 1.4), 50);
  this.t0 = ta - span * 0.2;
};
// Wire wheel zoom and drag pan on an element; redraw() repaints.
function attachView(el, view, redraw, maxDx) {
  el.addEventListener("wheel", e => {
    e.preventDefault();
    if (e.shiftKey) { view.dx = Math.min(0, Math.max(view.dx - e.deltaY, -maxDx())); }
    else { const r = el.getBoundingClientRect(); view.zoomAt(e.clientY - r.top, Math.exp(-e.deltaY * 0.0015)); }
    redraw();
  }, { passive: false });
  let drag = null;
  el.addEventListener("mousedown", e => { drag = { x: e.clientX, y: e.clientY, t0: view.t0, dx: view.dx, moved: false }; });
  window.addEventListener("mousemove", e => {
    if (!drag) return;
    const ddx = e.clientX - drag.x, ddy = e.clientY - drag.y;
    if (Math.abs(ddx) + Math.abs(ddy) > 3) drag.moved = true;
    view.t0 = drag.t0 - ddy / view.scale;
    view.dx = Math.min(0, Math.max(drag.dx + ddx, -maxDx()));
    redraw();
  });
  window.addEventListener("mouseup", () => { if (drag) { el.dataset.dragged = drag.moved ? "1" : ""; } drag = null; });
}
function sizeCanvas(canvas, w, h) {
  const r = window.devicePixelRatio || 1;
  canvas.width = Math.max(1, Math.floor(w * r)); canvas.height = Math.max(1, Math.floor(h * r));
  canvas.style.width = w + "px"; canvas.style.height = h + "px";
  const ctx = canvas.getContext("2d"); ctx.setTransform(r, 0, 0, r, 0, 0); return ctx;
}
// Time ticks along the left edge.
function drawTicks(ctx, view, h, w) {
  const span = (h - view.top) / view.scale;
  let step = Math.pow(10, Math.floor(Math.log10(Math.max(span / 8, 1))));
  if (span / step > 16) step *= 5; else if (span / step > 8) step *= 2;
  ctx.fillStyle = "#888"; ctx.font = "10px sans-serif"; ctx.strokeStyle = "#eee"; ctx.lineWidth = 1;
  for (let t = Math.ceil(view.t(view.top) / step) * step; t < view.t(h); t += step) {
    const y = Math.round(view.y(t)) + 0.5;
    ctx.beginPath(); ctx.moveTo(54, y); ctx.lineTo(w, y); ctx.stroke();
    ctx.fillText(fmtTime(t), 2, y + 3);
  }
}
