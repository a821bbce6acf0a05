// The lineage page: asks the REST API for a record's lineage, lays it out left to right
// (what a thing came from is to its left), and grows the picture when a node is clicked.
// Names from the graph only ever reach the page as text nodes, never as markup.
"use strict";

(() => {
  const SVG = "http://www.w3.org/2000/svg";
  const BOX_W = 200, BOX_H = 46, GAP_X = 70, GAP_Y = 18, MARGIN = 16;

  const body = document.body;
  const root = body.dataset.root;
  const maxDepth = Number(body.dataset.maxDepth) || 50;
  const colours = JSON.parse(body.dataset.colours || "{}");
  const graph = document.getElementById("graph");
  const legend = document.getElementById("legend");
  const details = document.getElementById("details");
  const status = document.getElementById("status");
  const form = document.getElementById("controls");
  const hint = details.firstElementChild;

  // What is drawn: nodes by id, edges by from|type|to, and which nodes were expanded;
  // view counts reloads, so that an answer for an earlier view is dropped.
  let nodes = new Map(), edges = new Map(), expanded = new Set(), selected = null, truncated = false, view = 0;

  const colourOf = (kind) => colours[kind] || "#d3d3d3";

  // Dark text on light fills, light text on dark ones.
  function inkFor(hex) {
    const n = parseInt(hex.slice(1), 16);
    const [r, g, b] = [(n >> 16) & 255, (n >> 8) & 255, n & 255];
    return 0.299 * r + 0.587 * g + 0.114 * b > 150 ? "#1b1b1b" : "#ffffff";
  }

  // Ids hold '/', which must stay a path separator; every segment is encoded.
  const pathOf = (id) => id.split("/").map(encodeURIComponent).join("/");

  async function fetchLineage(id, direction, depth, agents) {
    const q = new URLSearchParams({ direction, depth: String(depth), include_agents: String(agents) });
    const res = await fetch(`/api/v1/lineage/${pathOf(id)}?${q}`, {
      credentials: "same-origin", headers: { Accept: "application/json" },
    });
    if (res.status === 401) {
      // The sign-in lapsed: sign in again and come back here.
      location.assign(`/ui/login?next=${encodeURIComponent(location.pathname + location.search)}`);
      throw new Error("signed out");
    }
    if (!res.ok) {
      let message = `${res.status} ${res.statusText}`;
      try {
        const e = (await res.json()).error;
        if (e) message = e.message + (e.fields || []).map((f) => ` (${f.path}: ${f.message})`).join("");
      } catch (_) { /* not JSON: keep the status line */ }
      throw new Error(message);
    }
    return res.json();
  }

  function merge(result) {
    for (const n of result.nodes) nodes.set(n.id, { ...nodes.get(n.id), ...n });
    for (const e of result.edges) edges.set(`${e.from}|${e.type}|${e.to}`, e);
    truncated = truncated || result.truncated;
  }

  // Columns: the longest chain of dependencies below each node, so every edge points
  // left. Cycles, which PROV forbids but data may hold, are cut at the first repeat.
  function columns() {
    const deps = new Map();
    for (const e of edges.values()) {
      if (!deps.has(e.from)) deps.set(e.from, []);
      deps.get(e.from).push(e.to);
    }
    const col = new Map(), visiting = new Set();
    const place = (id) => {
      if (col.has(id)) return col.get(id);
      if (visiting.has(id)) return 0;
      visiting.add(id);
      let c = 0;
      for (const d of deps.get(id) || []) if (nodes.has(d)) c = Math.max(c, place(d) + 1);
      visiting.delete(id);
      col.set(id, c);
      return c;
    };
    for (const id of nodes.keys()) place(id);
    // Then each thing moves right to just before the first thing that depends on it, so a
    // forcing file used by the third run is drawn by that run, not at the far left.
    const dependents = new Map();
    for (const [from, tos] of deps) {
      for (const to of tos) {
        if (!dependents.has(to)) dependents.set(to, []);
        dependents.get(to).push(from);
      }
    }
    const byColumn = [...col.keys()].sort((a, b) => col.get(b) - col.get(a));
    for (const id of byColumn) {
      const ds = (dependents.get(id) || []).filter((d) => col.has(d) && d !== id);
      if (ds.length) col.set(id, Math.max(col.get(id), Math.min(...ds.map((d) => col.get(d))) - 1));
    }
    return col;
  }

  // Rows: nodes of a column sorted by the mean row of their neighbours, swept both ways
  // a few times, which untangles most crossings of real lineage.
  function layout() {
    const col = columns();
    const byCol = [];
    for (const [id, c] of col) (byCol[c] ||= []).push(id);
    for (const ids of byCol) ids?.sort();
    const neighbours = new Map([...nodes.keys()].map((id) => [id, []]));
    for (const e of edges.values()) {
      if (nodes.has(e.from) && nodes.has(e.to)) {
        neighbours.get(e.from).push(e.to);
        neighbours.get(e.to).push(e.from);
      }
    }
    const row = new Map();
    const number = () => byCol.forEach((ids) => ids?.forEach((id, i) => row.set(id, i)));
    number();
    for (let sweep = 0; sweep < 4; sweep++) {
      for (const ids of byCol) {
        if (!ids) continue;
        const key = new Map(ids.map((id) => {
          const ns = neighbours.get(id).filter((n) => col.get(n) !== col.get(id));
          return [id, ns.length ? ns.reduce((s, n) => s + row.get(n), 0) / ns.length : row.get(id)];
        }));
        ids.sort((a, b) => key.get(a) - key.get(b) || a.localeCompare(b));
        ids.forEach((id, i) => row.set(id, i));
      }
    }
    const tallest = Math.max(1, ...byCol.map((ids) => ids?.length || 0));
    const pos = new Map();
    byCol.forEach((ids, c) => ids?.forEach((id, i) => {
      const offset = (tallest - ids.length) * (BOX_H + GAP_Y) / 2;
      pos.set(id, { x: MARGIN + c * (BOX_W + GAP_X), y: MARGIN + offset + i * (BOX_H + GAP_Y) });
    }));
    return { pos, width: MARGIN * 2 + byCol.length * (BOX_W + GAP_X) - GAP_X, height: MARGIN * 2 + tallest * (BOX_H + GAP_Y) - GAP_Y };
  }

  function el(name, attrs, text) {
    const e = document.createElementNS(SVG, name);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
    if (text !== undefined) e.textContent = text;
    return e;
  }

  const clip = (s, n) => (s.length > n ? s.slice(0, n - 1) + "…" : s);

  function draw() {
    const { pos, width, height } = layout();
    graph.replaceChildren();
    graph.setAttribute("width", Math.max(width, 1));
    graph.setAttribute("height", Math.max(height, 1));
    graph.setAttribute("viewBox", `0 0 ${Math.max(width, 1)} ${Math.max(height, 1)}`);
    const defs = el("defs");
    const marker = el("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 10, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" });
    marker.append(el("path", { d: "M 0 0 L 10 5 L 0 10 z", fill: "#666" }));
    defs.append(marker);
    graph.append(defs);

    // Edges point the PROV way: from the dependent (right) to what it depends on (left).
    for (const e of edges.values()) {
      const a = pos.get(e.from), b = pos.get(e.to);
      if (!a || !b) continue;
      const x1 = a.x, y1 = a.y + BOX_H / 2, x2 = b.x + BOX_W, y2 = b.y + BOX_H / 2;
      const bend = Math.max(30, Math.abs(x1 - x2) / 2);
      const p = el("path", { class: "edge", d: `M ${x1} ${y1} C ${x1 - bend} ${y1}, ${x2 + bend} ${y2}, ${x2} ${y2}`, "marker-end": "url(#arrow)" });
      p.append(el("title", {}, e.role ? `${e.type} (${e.role})` : e.type));
      graph.append(p);
    }
    for (const [id, n] of nodes) {
      const p = pos.get(id);
      const fill = colourOf(n.kind), ink = inkFor(fill);
      const g = el("g", { class: "node", tabindex: 0, role: "button", "data-id": id, "data-kind": n.kind, transform: `translate(${p.x} ${p.y})` });
      if (id === root) g.classList.add("root");
      if (id === selected) g.classList.add("selected");
      if (expanded.has(id)) g.classList.add("expanded");
      g.append(el("title", {}, `${n.kind} ${id}`));
      g.append(el("rect", { width: BOX_W, height: BOX_H, rx: 6, fill }));
      g.append(el("text", { x: 8, y: 19, fill: ink, class: "name" }, clip(n.name || id, 26)));
      const sub = [n.kind, n.version ? `v${n.version}` : "", n.state || ""].filter(Boolean).join(" · ");
      g.append(el("text", { x: 8, y: 36, fill: ink, class: "sub" }, clip(sub, 32)));
      g.addEventListener("click", () => choose(id));
      g.addEventListener("keydown", (ev) => { if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); choose(id); } });
      graph.append(g);
    }
    drawLegend();
    const note = truncated ? " · truncated: there is more lineage than the limit" : "";
    status.textContent = `${nodes.size} nodes, ${edges.size} edges${note}`;
    status.classList.toggle("warn", truncated);
  }

  function drawLegend() {
    const kinds = [...new Set([...nodes.values()].map((n) => n.kind))].sort();
    legend.replaceChildren(...kinds.map((k) => {
      const li = document.createElement("li");
      li.dataset.kind = k;
      const sw = document.createElement("span");
      sw.className = "swatch";
      sw.style.background = colourOf(k);
      li.append(sw, document.createTextNode(k));
      return li;
    }));
  }

  function showDetails(id) {
    const n = nodes.get(id);
    const dl = document.createElement("dl");
    const row = (k, v) => {
      if (v === undefined || v === null || v === "") return;
      const dt = document.createElement("dt"), dd = document.createElement("dd");
      dt.textContent = k;
      dd.textContent = String(v);
      dl.append(dt, dd);
    };
    row("id", n.id); row("kind", n.kind); row("name", n.name); row("version", n.version); row("state", n.state);
    row("created", n.created_at); row("started", n.started_at); row("ended", n.ended_at);
    const ins = [...edges.values()].filter((e) => e.to === id).length;
    const outs = [...edges.values()].filter((e) => e.from === id).length;
    row("relations drawn", `${outs} out, ${ins} in`);
    const links = document.createElement("p");
    for (const [label, href] of [["record", `/id/${pathOf(id)}`], ["PROV (Turtle)", `/api/v1/prov/${pathOf(id)}?format=turtle`], ["lineage from here", `/ui/lineage/${pathOf(id)}`]]) {
      const a = document.createElement("a");
      a.href = href;
      a.textContent = label;
      links.append(a, document.createTextNode(" "));
    }
    details.replaceChildren(dl, links);
  }

  // Clicking a node selects it and brings in its neighbours, one hop both ways.
  async function choose(id) {
    selected = id;
    showDetails(id);
    if (expanded.has(id)) { draw(); return; }
    expanded.add(id);
    status.textContent = "Loading…";
    const asked = view;
    try {
      const res = await fetchLineage(id, "both", 1, form.include_agents.checked);
      if (asked !== view) return;
      merge(res);
      draw();
      showDetails(id);
    } catch (err) {
      if (asked !== view) return;
      expanded.delete(id);
      fail(err);
    }
  }

  function fail(err) {
    status.textContent = `Could not load lineage: ${err.message}`;
    status.classList.add("warn");
  }

  async function load() {
    const direction = form.direction.value;
    const depth = Math.min(Math.max(1, Number(form.depth.value) || 3), maxDepth);
    const agents = form.include_agents.checked;
    const q = new URLSearchParams({ direction, depth: String(depth), include_agents: String(agents) });
    history.replaceState(null, "", `${location.pathname}?${q}`);
    // The root is not marked expanded: a click on it brings in both directions.
    nodes = new Map(); edges = new Map(); expanded = new Set(); selected = null; truncated = false;
    const asked = ++view;
    details.replaceChildren(hint);
    status.textContent = "Loading…";
    try {
      const res = await fetchLineage(root, direction, depth, agents);
      if (asked !== view) return;
      merge(res);
      draw();
      graph.querySelector(`g.node[data-id="${CSS.escape(root)}"]`)?.scrollIntoView({ block: "center", inline: "center" });
    } catch (err) {
      if (asked !== view) return;
      graph.replaceChildren();
      fail(err);
    }
  }

  // The address holds the controls, so a view can be bookmarked or shared.
  const params = new URLSearchParams(location.search);
  if (["upstream", "downstream", "both"].includes(params.get("direction"))) form.direction.value = params.get("direction");
  if (params.get("depth")) form.depth.value = params.get("depth");
  form.include_agents.checked = params.get("include_agents") === "true";
  form.addEventListener("submit", (ev) => { ev.preventDefault(); load(); });
  load();
})();
