// elsercheck: the "Allocations" tab in locust's web UI. Draws, while the tab is open, the
// deployment's allocations (count and target) with the users beside them, and the pending
// requests, from /elsercheck/allocations.json. Plain SVG: no library, nothing fetched elsewhere.
(function () {
  "use strict";
  const PANEL_ID = "elsercheck-allocations";
  const SERIES = [
    { key: "allocation_count", label: "allocation_count", color: "#1f77b4", axis: "left", step: true },
    { key: "target_allocation_count", label: "target_allocation_count", color: "#ff7f0e", axis: "left", step: true, dash: "6 4" },
    { key: "user_count", label: "users", color: "#2ca02c", axis: "right" },
    { key: "number_of_pending_requests", label: "pending requests", color: "#d62728", axis: "right", dash: "2 3" },
  ];
  const W = 960, H = 380, M = { top: 30, right: 70, bottom: 40, left: 60 };
  const SVG_NS = "http://www.w3.org/2000/svg";

  function tabOpen() {
    return new URLSearchParams(window.location.search).get("tab") === "allocations";
  }

  function el(name, attrs, text) {
    const node = document.createElementNS(SVG_NS, name);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function panel() {
    let node = document.getElementById(PANEL_ID);
    if (!node) {
      node = document.createElement("div");
      node.id = PANEL_ID;
      node.style.cssText = "position:absolute;z-index:5;background:inherit;padding:8px 0;" +
        "font-family:Roboto,Helvetica,Arial,sans-serif;font-size:13px;";
      document.body.appendChild(node);
    }
    const tabs = document.querySelector('[role="tablist"]');
    const box = tabs ? tabs.getBoundingClientRect() : { left: 16, bottom: 120 };
    node.style.left = (box.left + window.scrollX) + "px";
    node.style.top = (box.bottom + window.scrollY + 12) + "px";
    return node;
  }

  function niceMax(value) {
    if (!(value > 0)) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(value)));
    for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= value) return m * p;
    return 10 * p;
  }

  function intMax(value) {  // allocations are whole numbers: an integer axis when small
    return value <= 8 ? Math.ceil(value) + 1 : niceMax(value);
  }

  function draw(data) {
    const rows = data.rows || [];
    const svg = el("svg", { id: "elsercheck-allocations-chart", width: W, height: H,
      viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": "allocations over time" });
    const iw = W - M.left - M.right, ih = H - M.top - M.bottom;
    const tMax = Math.max(1, ...rows.map(r => r.elapsed_s || 0),
      ...(data.stages || []).map(s => s.start_s + s.duration_s));
    const leftMax = intMax(Math.max(1, data.max_allocations || 0,
      ...rows.map(r => Math.max(r.allocation_count || 0, r.target_allocation_count || 0))));
    const rightMax = niceMax(Math.max(1, ...rows.map(r =>
      Math.max(r.user_count || 0, r.number_of_pending_requests || 0))));
    const x = t => M.left + (t / tMax) * iw;
    const y = (v, axis) => M.top + ih - (v / (axis === "left" ? leftMax : rightMax)) * ih;
    svg.appendChild(el("rect", { x: 0, y: 0, width: W, height: H, fill: "#ffffff" }));
    // stages as shaded bands, labelled
    (data.stages || []).forEach((s, i) => {
      svg.appendChild(el("rect", { x: x(s.start_s), y: M.top, width: Math.max(0, x(s.start_s + s.duration_s) - x(s.start_s)),
        height: ih, fill: i % 2 ? "#f3f3f3" : "#fafafa" }));
      svg.appendChild(el("text", { x: x(s.start_s) + 4, y: M.top + 12, fill: "#777", "font-size": 11 }, s.label));
    });
    // axes and grid
    const leftStep = leftMax <= 8 ? 1 : leftMax / 4;
    for (let v = 0; v <= leftMax + 1e-9; v += leftStep) {
      const yy = y(v, "left");
      svg.appendChild(el("line", { x1: M.left, x2: M.left + iw, y1: yy, y2: yy, stroke: "#e0e0e0" }));
      svg.appendChild(el("text", { x: M.left - 8, y: yy + 4, "text-anchor": "end", fill: "#444", "font-size": 11 }, String(+v.toFixed(1))));
    }
    for (let i = 0; i <= 4; i++) {
      const v = rightMax * i / 4;
      svg.appendChild(el("text", { x: M.left + iw + 8, y: y(v, "right") + 4, fill: "#444", "font-size": 11 }, String(+v.toFixed(1))));
    }
    for (let i = 0; i <= 5; i++) {
      const t = tMax * i / 5;
      svg.appendChild(el("text", { x: x(t), y: M.top + ih + 18, "text-anchor": "middle", fill: "#444", "font-size": 11 }, t.toFixed(0) + " s"));
    }
    svg.appendChild(el("text", { x: 14, y: M.top + ih / 2, fill: "#444", "font-size": 12,
      transform: `rotate(-90 14 ${M.top + ih / 2})`, "text-anchor": "middle" }, "allocations"));
    svg.appendChild(el("text", { x: W - 12, y: M.top + ih / 2, fill: "#444", "font-size": 12,
      transform: `rotate(90 ${W - 12} ${M.top + ih / 2})`, "text-anchor": "middle" }, "users / pending"));
    if (data.max_allocations) {
      const yy = y(data.max_allocations, "left");
      svg.appendChild(el("line", { x1: M.left, x2: M.left + iw, y1: yy, y2: yy, stroke: "#999", "stroke-dasharray": "2 2" }));
      svg.appendChild(el("text", { x: M.left + iw - 4, y: yy - 4, "text-anchor": "end", fill: "#777", "font-size": 11 }, "max " + data.max_allocations));
    }
    // series
    const polled = rows.filter(r => !r.poll_error);
    SERIES.forEach(s => {
      const pts = [];
      polled.forEach((r, i) => {
        const v = r[s.key];
        if (v === null || v === undefined) return;
        if (s.step && pts.length) pts.push(`${x(r.elapsed_s).toFixed(1)},${pts[pts.length - 1].split(",")[1]}`);
        pts.push(`${x(r.elapsed_s).toFixed(1)},${y(v, s.axis).toFixed(1)}`);
      });
      if (pts.length) svg.appendChild(el("polyline", { points: pts.join(" "), fill: "none", stroke: s.color,
        "stroke-width": s.step ? 3 : 2, "stroke-dasharray": s.dash || "", "data-series": s.key }));
    });
    // legend
    SERIES.forEach((s, i) => {
      const lx = M.left + i * 200;
      svg.appendChild(el("line", { x1: lx, x2: lx + 24, y1: 12, y2: 12, stroke: s.color, "stroke-width": 3, "stroke-dasharray": s.dash || "" }));
      svg.appendChild(el("text", { x: lx + 30, y: 16, fill: "#222", "font-size": 12 }, s.label));
    });
    return svg;
  }

  function summary(data) {
    const last = (data.rows || []).filter(r => !r.poll_error).slice(-1)[0];
    const p = document.createElement("p");
    p.id = "elsercheck-allocations-latest";
    p.style.margin = "0 0 6px 0";
    p.textContent = last
      ? `${data.inference_id} (${data.shape}): ${last.state}, ${last.allocation_count}/${last.target_allocation_count} allocations, ` +
        `${last.number_of_pending_requests} pending, ${last.average_inference_time_ms === null ? "–" : last.average_inference_time_ms.toFixed(1) + " ms"} average inference, ` +
        `${last.user_count} users (${(last.offered_rate || 0).toFixed(1)} req/s offered)`
      : `${data.inference_id || "no endpoint yet"}: waiting for the first stats poll`;
    return p;
  }

  async function refresh() {
    const node = document.getElementById(PANEL_ID);
    if (!tabOpen()) { if (node) node.style.display = "none"; return; }
    try {
      const answer = await fetch("./elsercheck/allocations.json", { cache: "no-store" });
      const data = await answer.json();
      const target = panel();
      target.style.display = "block";
      target.replaceChildren(summary(data), draw(data));
    } catch (err) {
      panel().textContent = "allocation stats unavailable: " + err;
    }
  }

  refresh();
  setInterval(refresh, 1000);
  window.addEventListener("popstate", refresh);
  document.addEventListener("click", () => setTimeout(refresh, 50));
})();
