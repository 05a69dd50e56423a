// A small SVG line chart that redraws as points arrive (the live loss curve). No library.
"use strict";

class LineChart {
  constructor(svg, {title, xLabel}) {
    this.svg = svg;
    this.title = title;
    this.xLabel = xLabel || "step";
    this.series = new Map(); // name -> {color, points: [[x, y]]}
    this.width = 560; this.height = 260;
    this.svg.setAttribute("viewBox", `0 0 ${this.width} ${this.height}`);
    this.draw();
  }

  add(name, color, x, y) {
    if (!Number.isFinite(x) || !Number.isFinite(y)) return;
    if (!this.series.has(name)) this.series.set(name, {color, points: []});
    const points = this.series.get(name).points;
    const last = points[points.length - 1];
    if (last && last[0] === x) points[points.length - 1] = [x, y]; else points.push([x, y]);
    this.draw();
  }

  count() {
    let n = 0;
    for (const s of this.series.values()) n += s.points.length;
    return n;
  }

  draw() {
    const NS = "http://www.w3.org/2000/svg";
    const {width: W, height: H} = this;
    const L = 48, R = 12, T = 26, B = 40;
    const all = [...this.series.values()].flatMap((s) => s.points);
    while (this.svg.firstChild) this.svg.removeChild(this.svg.firstChild);
    const add = (tag, attrs, text) => {
      const node = document.createElementNS(NS, tag);
      for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
      if (text !== undefined) node.textContent = text;
      this.svg.appendChild(node);
      return node;
    };
    add("title", {}, this.title);
    add("text", {x: L, y: 16, class: "title"}, this.title);
    if (!all.length) {
      add("text", {x: W / 2, y: H / 2, "text-anchor": "middle", class: "tick"}, "waiting for the first step…");
      return;
    }
    const xs = all.map((p) => p[0]), ys = all.map((p) => p[1]);
    let x0 = Math.min(...xs), x1 = Math.max(...xs), y0 = Math.min(...ys), y1 = Math.max(...ys);
    if (x1 === x0) x1 = x0 + 1;
    if (y1 === y0) { y0 -= 0.5; y1 += 0.5; }
    const pad = (y1 - y0) * 0.08; y0 -= pad; y1 += pad;
    const sx = (x) => L + ((x - x0) / (x1 - x0)) * (W - L - R);
    const sy = (y) => T + (1 - (y - y0) / (y1 - y0)) * (H - T - B);
    for (let i = 0; i <= 4; i++) {
      const y = y0 + ((y1 - y0) * i) / 4;
      add("line", {x1: L, x2: W - R, y1: sy(y), y2: sy(y), class: "grid"});
      add("text", {x: L - 6, y: sy(y) + 4, "text-anchor": "end", class: "tick"}, y.toFixed(3));
    }
    const ticks = Math.min(6, x1 - x0);
    for (let i = 0; i <= ticks; i++) {
      const x = Math.round(x0 + ((x1 - x0) * i) / ticks);
      add("text", {x: sx(x), y: H - B + 14, "text-anchor": "middle", class: "tick"}, String(x));
    }
    add("text", {x: (L + W - R) / 2, y: H - 8, "text-anchor": "middle", class: "tick"}, this.xLabel);
    const names = [...this.series.keys()];
    let lx = W - R - names.reduce((w, name) => w + 24 + 6 * name.length, 0);
    for (const [name, s] of this.series) {
      add("polyline", {points: s.points.map((p) => `${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`).join(" "),
        fill: "none", stroke: s.color, "stroke-width": 2});
      for (const p of s.points.length <= 60 ? s.points : []) {
        add("circle", {cx: sx(p[0]), cy: sy(p[1]), r: 2.5, fill: s.color});
      }
      add("rect", {x: lx, y: 8, width: 10, height: 10, fill: s.color});
      add("text", {x: lx + 14, y: 17, class: "tick"}, name);
      lx += 24 + 6 * name.length;
    }
  }
}
window.LineChart = LineChart;
