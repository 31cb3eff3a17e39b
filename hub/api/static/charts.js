"use strict";
// Small SVG charts over months, drawn here (no library, nothing fetched from elsewhere):
// Charts.draw(container, months, series, {label, max, format}), where a series is
// {name, values, color, kind: "bar" | "line"}; a null value is a gap (nothing to show). Each bar or point carries its value
// (data-value) and a tooltip (<title>).
const Charts = (() => {
  const NS = "http://www.w3.org/2000/svg";

  function el(name, attrs, parent, text) {
    const node = document.createElementNS(NS, name);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
    if (text !== undefined) node.textContent = text;
    if (parent) parent.appendChild(node);
    return node;
  }

  function niceMax(v) {
    if (!(v > 0)) return 1;
    const p = 10 ** Math.floor(Math.log10(v));
    for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
    return 10 * p;
  }

  function monthLabel(m) {  // "2026-03" -> "03/26"
    return m.slice(5, 7) + "/" + m.slice(2, 4);
  }

  function draw(container, months, series, opts) {
    container.replaceChildren();
    const W = 520, H = 230, L = 48, R = 12, T = 12, B = 30;
    const format = opts.format || (v => String(v));
    const svg = el("svg", {viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": opts.label}, container);
    const all = series.flatMap(s => s.values).filter(v => v !== null && Number.isFinite(v));
    const max = opts.max !== undefined ? opts.max : niceMax(Math.max(0, ...all));
    const pw = W - L - R, ph = H - T - B;
    const n = Math.max(months.length, 1), step = pw / n;
    const y = v => T + ph - (Math.min(v, max) / max) * ph;
    const cx = i => L + step * (i + 0.5);

    for (let i = 0; i <= 4; i++) {
      const v = (max * i) / 4, yy = y(v);
      el("line", {x1: L, x2: W - R, y1: yy, y2: yy, stroke: "#e3e8ee"}, svg);
      el("text", {x: L - 6, y: yy + 4, "text-anchor": "end"}, svg, format(v));
    }
    const every = Math.ceil(n / 12);
    months.forEach((m, i) => {
      if (i % every === 0) el("text", {x: cx(i), y: H - 10, "text-anchor": "middle"}, svg, monthLabel(m));
    });

    const bars = series.filter(s => s.kind === "bar");
    const bw = (step * 0.7) / Math.max(bars.length, 1);
    bars.forEach((s, bi) => {
      const g = el("g", {"data-series": s.name}, svg);
      s.values.forEach((v, i) => {
        const x = L + step * i + step * 0.15 + bw * bi, top = y(v);
        const r = el("rect", {x, y: top, width: Math.max(bw - 1, 1), height: T + ph - top, fill: s.color,
                              "data-month": months[i], "data-value": v}, g);
        el("title", {}, r, `${s.name} ${months[i]}: ${format(v)}`);
      });
    });
    series.filter(s => s.kind !== "bar").forEach(s => {
      const g = el("g", {"data-series": s.name}, svg);
      let run = [];  // a line through each run of values; null leaves a gap
      const flush = () => {
        if (run.length) el("polyline", {points: run.join(" "), fill: "none", stroke: s.color, "stroke-width": 2}, g);
        run = [];
      };
      s.values.forEach((v, i) => (v === null ? flush() : run.push(`${cx(i)},${y(v)}`)));
      flush();
      s.values.forEach((v, i) => {
        if (v === null) return;
        const c = el("circle", {cx: cx(i), cy: y(v), r: 3, fill: s.color, "data-month": months[i], "data-value": v}, g);
        el("title", {}, c, `${s.name} ${months[i]}: ${format(v)}`);
      });
    });

    const legend = document.createElement("div");
    legend.className = "legend";
    for (const s of series) {
      const swatch = document.createElement("span");
      swatch.style.background = s.color;
      legend.append(swatch, document.createTextNode(s.name));
    }
    container.appendChild(legend);
  }

  return {draw};
})();
