/* sfn-local console: plain JavaScript over /ui/api (JSON) and /ui/api/stream (server-sent events).
   The graph is laid out by elkjs (static/vendor/elk.bundled.js, shipped in the package). */
"use strict";

const STATUS_PRIORITY = ["running", "failed", "caught", "retried", "cancelled", "succeeded"];
const EXECUTION_STATUSES = ["RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED", "PENDING_REDRIVE"];
const SVG = "http://www.w3.org/2000/svg";
const view = document.getElementById("view");
let stream = null; // the EventSource of the page shown, closed when the page changes

// -- helpers -------------------------------------------------------------------------------------
function el(tag, attrs, ...children) {
  const node = tag.startsWith("svg:") ? document.createElementNS(SVG, tag.slice(4)) : document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

async function api(path, options) {
  const response = await fetch("/ui/api/" + path, options);
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || response.statusText);
  return body;
}

const fmtTime = (t) => (t ? new Date(t * 1000).toLocaleString() : "");
function fmtDuration(seconds) {
  if (seconds === null || seconds === undefined || isNaN(seconds)) return "";
  if (seconds < 1) return Math.round(seconds * 1000) + " ms";
  if (seconds < 120) return seconds.toFixed(2) + " s";
  return Math.floor(seconds / 60) + " min " + Math.round(seconds % 60) + " s";
}
const pretty = (value) => (typeof value === "string" ? value : JSON.stringify(value, null, 2));
const badge = (status) => el("span", { class: "badge " + status, text: status });
const mergeStatus = (list) =>
  list.length ? list.reduce((a, b) => (STATUS_PRIORITY.indexOf(a) <= STATUS_PRIORITY.indexOf(b) ? a : b)) : "notrun";
const execLink = (arn, text) => el("a", { href: "#/execution/" + encodeURIComponent(arn) }, text || arn.split(":").pop());

function table(headers, rows, onClick) {
  return el("table", { class: "grid" },
    el("thead", {}, el("tr", {}, headers.map((h) => el("th", { text: h })))),
    el("tbody", {}, rows.map((row, i) => el("tr", onClick ? { class: "clickable", onclick: () => onClick(i) } : {},
      row.map((cell) => el("td", {}, cell))))));
}

function showError(err) {
  view.replaceChildren(el("div", { class: "error-box" }, el("b", { text: "Error: " }), String(err.message || err)));
}

function setLive(text) { document.getElementById("live").textContent = text || ""; }

// -- routing ---------------------------------------------------------------------------------------
function route() {
  if (stream) { stream.close(); stream = null; }
  setLive("");
  document.body.dataset.ready = "";
  document.body.dataset.updates = "0";
  const hash = location.hash.replace(/^#/, "") || "/";
  const [path, query] = hash.split("?");
  const params = new URLSearchParams(query || "");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  const section = parts[0] === "execution" || !parts.length ? "executions" : parts[0];
  document.querySelectorAll("[data-nav]").forEach((a) => a.classList.toggle("active", a.dataset.nav === section));
  const page = { execution: () => executionPage(parts.slice(1).join("/")), catalog: () => catalogPage(parts[1], parts[2]),
    buckets: () => bucketsPage(parts[1], params.get("prefix") || "", params.get("key")), sql: () => sqlPage(params) };
  (page[parts[0]] || (() => executionsPage(params)))().catch(showError);
}
window.addEventListener("hashchange", route);

// -- state machines and executions ---------------------------------------------------------------------
async function executionsPage(params) {
  const filters = { machine: params.get("machine") || "", status: params.get("status") || "", name: params.get("name") || "" };
  const machinesBox = el("div", { class: "card" });
  const listBox = el("div");
  const setFilter = (key, value) => {
    filters[key] = value;
    const q = new URLSearchParams(Object.entries(filters).filter(([, v]) => v));
    history.replaceState(null, "", "#/?" + q.toString());
    loadList();
  };
  const statusSelect = el("select", { id: "status-filter", onchange: (e) => setFilter("status", e.target.value) },
    el("option", { value: "", text: "any status" }), EXECUTION_STATUSES.map((s) => el("option", { value: s, text: s })));
  statusSelect.value = filters.status;
  const nameInput = el("input", { id: "name-filter", placeholder: "name contains", value: filters.name,
    oninput: (e) => setFilter("name", e.target.value) });
  const machineSelect = el("select", { id: "machine-filter", onchange: (e) => setFilter("machine", e.target.value) });
  view.replaceChildren(el("h1", { text: "State machines" }), machinesBox, el("h1", { text: "Executions" }),
    el("div", { class: "filters" }, machineSelect, statusSelect, nameInput), listBox);

  async function loadMachines() {
    const machines = await api("state-machines");
    machineSelect.replaceChildren(el("option", { value: "", text: "all state machines" }),
      machines.map((m) => el("option", { value: m.stateMachineArn, text: m.name })));
    machineSelect.value = filters.machine;
    machinesBox.replaceChildren(machines.length ? table(["Name", "Type", "Created", "Executions"], machines.map((m) => [
      el("a", { href: "#/?machine=" + encodeURIComponent(m.stateMachineArn), text: m.name }), m.type, fmtTime(m.creationDate),
      el("span", {}, Object.entries(m.counts).map(([s, n]) => el("span", {}, badge(s + " " + n), " ")))])) :
      el("div", { class: "empty", text: "No state machines yet: create one with boto3 or the aws CLI against this endpoint." }));
  }
  async function loadList() {
    const q = new URLSearchParams(Object.entries(filters).filter(([, v]) => v));
    const rows = await api("executions?" + q.toString());
    listBox.replaceChildren(rows.length ? table(["Name", "State machine", "Status", "Started", "Duration", "Error"], rows.map((x) => [
      execLink(x.executionArn, x.name), x.stateMachineArn.split(":").pop(), badge(x.status), fmtTime(x.startDate),
      x.stopDate ? fmtDuration(x.stopDate - x.startDate) : "", x.error || ""])) : el("div", { class: "empty", text: "No executions match." }));
  }
  await loadMachines();
  await loadList();
  stream = new EventSource("/ui/api/stream");
  stream.addEventListener("executions", () => { loadMachines().then(loadList).catch(showError); setLive("live"); });
}

// -- the graph ---------------------------------------------------------------------------------------------
function choiceLabel(rule) {
  if (rule.Condition) return rule.Condition;
  const op = Object.keys(rule).find((k) => !["Variable", "Next", "Comment", "Assign", "Output"].includes(k));
  if (!op) return "";
  if (["And", "Or", "Not"].includes(op)) return op + "(…)";
  return (rule.Variable || "") + " " + op + " " + JSON.stringify(rule[op]);
}

const short = (text, n) => (text.length > n ? text.slice(0, n - 1) + "…" : text);
const textWidth = (text, size) => Math.ceil(text.length * size * 0.6) + 4;

/* The definition as an ELK graph: states as nodes; Parallel branches and Map processors as nested
   groups; Next, Choice (labelled), Default and Catch edges, each declared in the lowest group holding
   both ends. Returns {graph, kinds} where kinds maps a node id to what it draws. */
function buildGraph(definition) {
  const root = { id: "root", children: [], edges: [], layoutOptions: {
    "elk.algorithm": "layered", "elk.direction": "DOWN", "elk.hierarchyHandling": "INCLUDE_CHILDREN",
    "elk.layered.spacing.nodeNodeBetweenLayers": "34", "elk.spacing.nodeNode": "24", "elk.spacing.edgeLabel": "3",
    "elk.edgeRouting": "ORTHOGONAL", "elk.json.shapeCoords": "ROOT", "elk.json.edgeCoords": "ROOT",
    "elk.edgeLabels.inline": "false" } };
  const parent = { root: null };
  const kinds = {};
  const add = (container, node, kind) => { container.children.push(node); parent[node.id] = container.id; kinds[node.id] = kind; };
  const groupOptions = { "elk.padding": "[top=30,left=12,bottom=12,right=12]" };
  const edges = [];
  let counter = 0;
  const edge = (source, target, cls, label) => edges.push({ id: "e" + counter++, sources: [source], targets: [target], cls, label });

  function addStates(states, container, startAt, atTop) {
    for (const [name, state] of Object.entries(states || {})) {
      const id = "s:" + name;
      const title = name;
      const type = state.Type || "?";
      if (type === "Parallel" || type === "Map") {
        const node = { id, children: [], layoutOptions: groupOptions, width: textWidth(title + "  " + type, 12) + 24, height: 40 };
        add(container, node, { kind: "group", name, type });
        if (type === "Parallel") {
          (state.Branches || []).forEach((branch, i) => {
            const bnode = { id: "b:" + name + ":" + i, children: [], layoutOptions: { "elk.padding": "[top=22,left=10,bottom=10,right=10]" } };
            add(node, bnode, { kind: "branch", name: "branch " + (i + 1) });
            addStates(branch.States, bnode, branch.StartAt, false);
          });
        } else {
          const processor = state.ItemProcessor || state.Iterator || {};
          addStates(processor.States, node, processor.StartAt, false);
        }
      } else {
        const width = Math.max(110, textWidth(short(title, 40), 12) + 20);
        add(container, { id, width, height: 42 }, { kind: "state", name, type, start: name === startAt });
      }
      if (state.Next) edge(id, "s:" + state.Next, "next");
      if (state.End && atTop) edge(id, "__end", "next");
      (state.Choices || []).forEach((rule) => rule.Next && edge(id, "s:" + rule.Next, "choice", short(choiceLabel(rule), 48)));
      if (state.Default) edge(id, "s:" + state.Default, "default", "Default");
      (state.Catch || []).forEach((c) => c.Next && edge(id, "s:" + c.Next, "catch", "Catch " + short((c.ErrorEquals || []).join(", "), 40)));
      if (atTop && (type === "Succeed" || type === "Fail")) edge(id, "__end", "next");
    }
  }
  add(root, { id: "__start", width: 18, height: 18 }, { kind: "terminal", name: "start" });
  addStates(definition.States, root, definition.StartAt, true);
  add(root, { id: "__end", width: 18, height: 18 }, { kind: "terminal", name: "end" });
  edge("__start", "s:" + definition.StartAt, "next");

  const ancestors = (id) => { const out = []; for (let p = parent[id]; p; p = parent[p]) out.push(p); return out; };
  const containers = {};
  (function index(node) { containers[node.id] = node; (node.children || []).forEach(index); })(root);
  for (const e of edges) {
    const [a, b] = [e.sources[0], e.targets[0]];
    if (!(b in parent)) continue; // a Next to a state that does not exist: validation reports it
    const up = ancestors(b);
    const home = ancestors(a).find((p) => up.includes(p)) || "root";
    if (e.label) e.labels = [{ text: e.label, width: textWidth(e.label, 10), height: 13 }];
    containers[home].edges = containers[home].edges || [];
    containers[home].edges.push(e);
    kinds[e.id] = { kind: "edge", cls: e.cls };
  }
  return { graph: root, kinds };
}

async function drawGraph(definition, onSelect) {
  const { graph, kinds } = buildGraph(definition);
  const laid = await new ELK().layout(graph);
  const svg = el("svg:svg", { class: "graph", width: laid.width + 8, height: laid.height + 8,
    viewBox: `-4 -4 ${laid.width + 8} ${laid.height + 8}` });
  const defs = el("svg:defs", {}, el("svg:marker", { id: "arrow", viewBox: "0 0 10 10", refX: "9", refY: "5",
    markerWidth: "7", markerHeight: "7", orient: "auto-start-reverse" }, el("svg:path", { d: "M0,0 L10,5 L0,10 z", fill: "#6b7280" })));
  const groups = el("svg:g"), edges = el("svg:g"), nodes = el("svg:g");
  svg.append(defs, groups, edges, nodes);
  const byState = {};
  (function walk(node) {
    for (const child of node.children || []) {
      const info = kinds[child.id];
      const box = el("svg:rect", { x: child.x, y: child.y, width: child.width, height: child.height, rx: info.kind === "state" ? 8 : 6 });
      if (info.kind === "terminal") {
        nodes.append(el("svg:g", { class: "terminal" }, el("svg:circle", { cx: child.x + 9, cy: child.y + 9, r: info.name === "end" ? 8 : 6 })));
      } else if (info.kind === "branch") {
        groups.append(el("svg:g", { class: "branch" }, box, el("svg:text", { x: child.x + 8, y: child.y + 15, class: "type", text: info.name })));
      } else {
        const isGroup = info.kind === "group";
        const g = el("svg:g", { class: `node ${isGroup ? "group" : "state"} st-notrun type-${info.type}`, "data-state": info.name,
          onclick: (ev) => { ev.stopPropagation(); onSelect(info.name); } },
          box, el("svg:title", { text: `${info.name} (${info.type})` }));
        if (isGroup) {
          g.append(el("svg:text", { x: child.x + 10, y: child.y + 19, class: "title", text: info.name }),
            el("svg:text", { x: child.x + 16 + textWidth(info.name, 12), y: child.y + 19, class: "type", text: info.type }));
        } else {
          g.append(el("svg:text", { x: child.x + child.width / 2, y: child.y + 18, "text-anchor": "middle", text: short(info.name, 40) }),
            el("svg:text", { x: child.x + child.width / 2, y: child.y + 33, "text-anchor": "middle", class: "type",
              text: info.type + (info.start ? " · start" : "") }));
        }
        (isGroup ? groups : nodes).append(g);
        byState[info.name] = g;
      }
      walk(child);
    }
    for (const e of node.edges || []) {
      const info = kinds[e.id];
      const g = el("svg:g", { class: "edge " + info.cls });
      for (const s of e.sections || []) {
        const points = [s.startPoint, ...(s.bendPoints || []), s.endPoint];
        g.append(el("svg:path", { d: "M" + points.map((p) => `${p.x},${p.y}`).join(" L"), "marker-end": "url(#arrow)" }));
      }
      for (const label of e.labels || []) {
        g.append(el("svg:text", { x: label.x, y: label.y + 10, text: label.text }));
      }
      edges.append(g);
    }
  })(laid);
  return { svg, byState };
}

// -- an execution ------------------------------------------------------------------------------------------
async function executionPage(arn) {
  const data = await api("execution?arn=" + encodeURIComponent(arn));
  const ui = { data, selected: null, visitId: null, iteration: {}, eventFilter: "", eventType: "" };
  const header = el("div"), rootBox = el("div"), relations = el("div");
  const graphBox = el("div", { class: "graph-wrap", id: "graph" });
  const detail = el("div", { class: "card detail", id: "detail" });
  const eventsBox = el("div");
  const legend = el("div", { class: "legend" }, ["notrun", ...STATUS_PRIORITY.slice().reverse()].map(badge),
    el("span", { class: "muted", text: " — dashed red: Catch; blue labels: Choice rules" }));
  view.replaceChildren(header, rootBox, relations,
    el("div", { class: "exec-layout" }, el("div", {}, legend, graphBox), detail), el("h2", { text: "Events" }), eventsBox);

  const graph = data.definition ? await drawGraph(data.definition, (name) => select(name)) : null;
  if (graph) graphBox.append(graph.svg); else graphBox.append(el("div", { class: "empty", text: "No definition." }));

  // A visit counts for a state's colour unless an iteration is picked for a Map around it.
  const inScope = (visit) => visit.place.every(([map, index]) => !(map in ui.iteration) || ui.iteration[map] === index);
  function stateStatus(name) { return mergeStatus(ui.data.visits.filter((v) => v.name === name && inScope(v)).map((v) => v.status)); }

  function paint() {
    if (!graph) return;
    for (const [name, g] of Object.entries(graph.byState)) {
      const status = stateStatus(name);
      g.setAttribute("class", g.getAttribute("class").replace(/\bst-\w+/, "st-" + status).replace(/\s*selected/, "") +
        (name === ui.selected ? " selected" : ""));
      g.dataset.status = status;
    }
  }

  function renderHeader() {
    const x = ui.data.execution;
    const end = x.stopDate || Date.now() / 1000;
    header.replaceChildren(el("div", { class: "card" },
      el("h1", {}, x.name, " ", el("span", { id: "exec-status" }, badge(x.status))),
      el("dl", { class: "kv" },
        el("dt", { text: "Execution" }), el("dd", { text: x.executionArn }),
        el("dt", { text: "State machine" }), el("dd", {}, el("a", { href: "#/?machine=" + encodeURIComponent(x.stateMachineArn), text: x.stateMachineArn.split(":").pop() })),
        el("dt", { text: "Started" }), el("dd", { text: fmtTime(x.startDate) }),
        el("dt", { text: "Duration" }), el("dd", { text: fmtDuration(end - x.startDate) + (x.stopDate ? "" : " (running)") }),
        x.error ? [el("dt", { text: "Error" }), el("dd", { text: x.error + (x.cause ? ": " + x.cause : "") })] : null)));
    const rc = ui.data.rootCause;
    rootBox.replaceChildren(rc ? el("div", { class: "error-box", id: "root-cause" }, el("b", { text: "Root cause " }),
      rc.state ? el("a", { href: "javascript:void 0", onclick: openRootCause, text: rc.label }) : "", "\n", rc.lines.join("\n")) : "");
    const links = [];
    if (ui.data.parent) links.push(el("div", {}, "Started by ", ui.data.parentKnown ? execLink(ui.data.parent) : el("code", { text: ui.data.parent })));
    for (const child of ui.data.children) {
      links.push(el("div", {}, `State ${child.label} started `, child.known ? execLink(child.executionArn) : el("code", { text: child.executionArn }),
        " ", child.status ? badge(child.status) : "", child.known ? "" : el("span", { class: "muted", text: " (not in this server's store)" })));
    }
    relations.replaceChildren(links.length ? el("div", { class: "card", id: "relations" }, el("h3", { text: "Related executions" }), links) : "");
  }

  function openRootCause() {
    const rc = ui.data.rootCause;
    if (!rc || !rc.state) return;
    const visit = ui.data.visits.find((v) => v.label === rc.label) || ui.data.visits.find((v) => v.name === rc.state);
    if (visit) for (const [map, index] of visit.place) ui.iteration[map] = index;
    select(rc.state, visit ? visit.id : null);
  }

  function select(name, visitId) {
    ui.selected = name;
    ui.visitId = visitId || null;
    paint();
    renderDetail();
  }

  function renderDetail() {
    const name = ui.selected;
    if (!name) {
      detail.replaceChildren(el("div", { class: "empty", text: "Click a state to see its input, data-flow stages, output, error, retries and timings." }));
      return;
    }
    const state = findState(ui.data.definition, name) || {};
    const visits = ui.data.visits.filter((v) => v.name === name && inScope(v));
    const visit = visits.find((v) => v.id === ui.visitId) || visits[visits.length - 1];
    const parts = [el("h2", {}, name, " ", el("span", { class: "muted", text: state.Type || "" }), " ", badge(stateStatus(name)))];
    if (visits.length > 1) {
      const picker = el("select", { onchange: (e) => { ui.visitId = Number(e.target.value); renderDetail(); } },
        visits.map((v) => el("option", { value: v.id, text: `${v.label} — ${v.status}` })));
      picker.value = visit.id;
      parts.push(el("div", { class: "filters" }, `${visits.length} visits:`, picker));
    }
    // The iterations of the Map states around this one (and of this one, if it is a Map), to browse.
    const maps = new Set();
    for (const v of ui.data.visits) if (v.name === name) v.place.forEach(([m]) => maps.add(m));
    if (state.Type === "Map") maps.add(name);
    for (const map of maps) if ((findState(ui.data.definition, map) || {}).Type === "Map") parts.push(iterationBrowser(map));
    if (!visit) {
      parts.push(el("div", { class: "empty", text: "Not run" + (Object.keys(ui.iteration).length ? " in the iteration picked." : ".") }));
      detail.replaceChildren(...parts);
      return;
    }
    const exitedAt = visit.exitedAt;
    parts.push(el("dl", { class: "kv" },
      el("dt", { text: "Visit" }), el("dd", { text: visit.label }),
      el("dt", { text: "Status" }), el("dd", {}, badge(visit.status)),
      el("dt", { text: "Entered" }), el("dd", { text: fmtTime(visit.entered) }),
      el("dt", { text: "Exited" }), el("dd", { text: exitedAt ? fmtTime(exitedAt) : "—" }),
      el("dt", { text: "Duration" }), el("dd", { text: fmtDuration((exitedAt || ui.data.execution.stopDate || Date.now() / 1000) - visit.entered) })));
    if (visit.error) parts.push(el("div", { class: "error-box" }, el("b", { text: visit.error.error || "error" }), visit.error.cause ? "\n" + visit.error.cause : ""));
    if (visit.attempts.length) {
      parts.push(el("h3", { text: visit.attempts.length > 1 ? `Attempts (${visit.attempts.length - 1} retries)` : "Attempt" }),
        table(["#", "Started", "Took", "Outcome"], visit.attempts.map((a, i) => [String(i + 1), fmtTime(a.started),
          a.ended ? fmtDuration(a.ended - a.started) : "running", a.error ? `${a.error}${a.cause ? ": " + short(a.cause, 200) : ""}` : (a.ended ? "ok" : "")])));
    }
    const stageNames = { input: "Input", parameters: "After InputPath and Parameters (the request)", result: "Result", output: "Output" };
    for (const [key, title] of Object.entries(stageNames)) {
      if (key in visit.stages) parts.push(el("details", { open: "" }, el("summary", { text: title }), el("pre", { text: pretty(visit.stages[key]) })));
    }
    // Every stage (afterInputPath ... afterResultPath, variables), rebuilt by the server on request.
    const allStages = el("div", { class: "stages" });
    const arn = ui.data.execution.executionArn, visitId = visit.id;
    parts.push(el("details", { class: "all-stages", ontoggle: async (e) => {
      if (!e.target.open || allStages.childElementCount) return;
      allStages.append(el("div", { class: "muted", text: "loading…" }));
      try {
        const answer = await api(`stages?arn=${encodeURIComponent(arn)}&visit=${visitId}`);
        allStages.replaceChildren(...Object.entries(answer.stages).map(([key, value]) =>
          el("div", {}, el("b", { text: key }), el("pre", { text: pretty(value) }))),
          answer.note ? el("div", { class: "muted", text: answer.note }) : null);
      } catch (error) {
        allStages.replaceChildren(el("div", { class: "error-box", text: String(error.message || error) }));
      }
    } }, el("summary", { text: "All data-flow stages" }), allStages));
    for (const child of ui.data.children.filter((c) => c.state === name)) {
      parts.push(el("div", {}, "Started ", child.known ? execLink(child.executionArn) : el("code", { text: child.executionArn })));
    }
    detail.replaceChildren(...parts);
  }

  function iterationBrowser(map) {
    const byIndex = {};
    for (const v of ui.data.visits) {
      const at = v.place.findIndex(([m]) => m === map);
      if (at < 0) continue;
      const outer = v.place.slice(0, at).every(([m, i]) => !(m in ui.iteration) || ui.iteration[m] === i);
      if (outer) (byIndex[v.place[at][1]] = byIndex[v.place[at][1]] || []).push(v.status);
    }
    const indexes = Object.keys(byIndex).map(Number).sort((a, b) => a - b);
    const pick = (index) => { if (index === null) delete ui.iteration[map]; else ui.iteration[map] = index; paint(); renderDetail(); };
    return el("div", {}, el("h3", { text: `Iterations of ${map} (${indexes.length})` }), el("div", { class: "iterations", "data-map": map },
      el("span", { class: "badge notrun" + (map in ui.iteration ? "" : " active"), text: "all", onclick: () => pick(null) }),
      indexes.map((i) => el("span", { class: `badge ${mergeStatus(byIndex[i])}${ui.iteration[map] === i ? " active" : ""}`,
        "data-iteration": i, text: String(i), onclick: () => pick(i) }))));
  }

  function renderEvents() {
    const events = ui.data.events;
    const start = ui.data.execution.startDate;
    const nameOf = {};
    for (const v of ui.data.visits) nameOf[v.id] = v.name;
    // A StateEntered event is its own state's; any other event is the state visit's it belongs to.
    const visitOf = (e) => (e.type.endsWith("StateEntered") ? e.id : ui.data.owners[e.id]);
    const stateOf = (e) => nameOf[visitOf(e)] || "";
    const types = [...new Set(events.map((e) => e.type))].sort();
    const needle = ui.eventFilter.toLowerCase();
    const rows = events.filter((e) => {
      if (ui.eventType && e.type !== ui.eventType) return false;
      if (!needle) return true;
      return (e.type + " " + stateOf(e) + " " + JSON.stringify(e)).toLowerCase().includes(needle);
    });
    const typeSelect = el("select", { id: "event-type", onchange: (ev) => { ui.eventType = ev.target.value; renderEvents(); } },
      el("option", { value: "", text: "all types" }), types.map((t) => el("option", { value: t, text: t })));
    typeSelect.value = ui.eventType;
    const search = el("input", { id: "event-filter", placeholder: "filter events", value: ui.eventFilter,
      oninput: (ev) => { ui.eventFilter = ev.target.value; clearTimeout(search.timer); search.timer = setTimeout(() => { renderEvents(); document.getElementById("event-filter").focus(); }, 200); } });
    const body = rows.map((e) => {
      const details = Object.entries(e).find(([k]) => k.endsWith("EventDetails"));
      const owner = stateOf(e);
      return el("tr", { class: "clickable", onclick: () => owner && select(owner, visitOf(e)) },
        el("td", { text: e.id }), el("td", { text: e.type }), el("td", { text: owner }),
        el("td", { text: fmtDuration(e.timestamp - start) }), el("td", { class: "details", text: details ? short(JSON.stringify(details[1]), 400) : "" }));
    });
    eventsBox.replaceChildren(el("div", { class: "filters" }, typeSelect, search, el("span", { class: "muted", text: `${rows.length} of ${events.length}` })),
      el("div", { class: "events-wrap" }, el("table", { class: "grid", id: "events" },
        el("thead", {}, el("tr", {}, ["ID", "Type", "State", "Since start", "Details"].map((h) => el("th", { text: h })))), el("tbody", {}, body))));
  }

  function renderAll() { renderHeader(); paint(); renderDetail(); renderEvents(); }
  renderAll();
  if (data.rootCause && data.rootCause.state) openRootCause();
  document.body.dataset.ready = arn; // tests wait for this
  if (data.execution.status === "RUNNING") {
    stream = new EventSource("/ui/api/stream?arn=" + encodeURIComponent(arn));
    setLive("live");
    stream.addEventListener("execution", (ev) => {
      ui.data = JSON.parse(ev.data);
      renderAll();
      document.body.dataset.updates = String(Number(document.body.dataset.updates || 0) + 1);
    });
    stream.addEventListener("end", () => { stream.close(); stream = null; setLive(""); if (ui.data.rootCause && !ui.selected) openRootCause(); });
  }
}

function findState(definition, name) {
  const stack = [definition || {}];
  while (stack.length) {
    const states = stack.pop().States || {};
    for (const [key, state] of Object.entries(states)) {
      if (key === name) return state;
      (state.Branches || []).forEach((b) => stack.push(b));
      if (state.ItemProcessor || state.Iterator) stack.push(state.ItemProcessor || state.Iterator);
    }
  }
  return null;
}

// -- the Glue catalog ------------------------------------------------------------------------------------
async function catalogPage(database, tableName) {
  const databases = await api("catalog");
  const side = el("div", { class: "card" }, el("h2", { text: "Databases" }), databases.length ? databases.map((db) => el("div", {},
    el("h3", { text: db.Name }), el("ul", { class: "list-plain" }, db.Tables.map((t) => el("li", {},
      el("a", { href: `#/catalog/${encodeURIComponent(db.Name)}/${encodeURIComponent(t.Name)}`, text: t.Name }),
      el("span", { class: "muted", text: ` ${t.Columns} columns${t.PartitionKeys.length ? ", partitioned by " + t.PartitionKeys.join(", ") : ""}` }))))))
    : el("div", { class: "empty", text: "The catalog is empty: run a crawler or CREATE TABLE." }));
  const main = el("div");
  view.replaceChildren(el("h1", { text: "Glue Data Catalog" }), el("div", { class: "split" }, side, main));
  if (!database || !tableName) {
    main.append(el("div", { class: "empty", text: "Pick a table." }));
    return;
  }
  const found = await api(`catalog/${encodeURIComponent(database)}/${encodeURIComponent(tableName)}`);
  const t = found.Table, sd = t.StorageDescriptor || {};
  const keys = t.PartitionKeys || [];
  main.append(el("div", { class: "card" },
    el("h2", {}, `${database}.${t.Name} `, el("a", { href: "#/sql?q=" + encodeURIComponent(`SELECT * FROM ${database}.${t.Name} LIMIT 20`) + "&db=" + encodeURIComponent(database), text: "query" })),
    el("dl", { class: "kv" }, el("dt", { text: "Location" }), el("dd", { text: sd.Location || "" }),
      el("dt", { text: "Format" }), el("dd", { text: (sd.InputFormat || "").split(".").pop() + " " + ((sd.SerdeInfo || {}).SerializationLibrary || "").split(".").pop() }),
      el("dt", { text: "Type" }), el("dd", { text: t.TableType || "" }), el("dt", { text: "Updated" }), el("dd", { text: String(t.UpdateTime || t.CreateTime || "") })),
    el("h3", { text: "Columns" }), table(["Name", "Type", "Comment"], [...(sd.Columns || []), ...keys.map((k) => ({ ...k, Comment: "partition key" }))]
      .map((c) => [c.Name, c.Type || "", c.Comment || ""])),
    el("h3", { text: `Partitions (${found.PartitionCount})` }),
    found.Partitions.length ? table([...keys.map((k) => k.Name), "Location"], found.Partitions.map((p) => [...p.Values, (p.StorageDescriptor || {}).Location || ""]))
      : el("div", { class: "empty", text: "No partitions." })));
}

// -- the buckets -------------------------------------------------------------------------------------------
async function bucketsPage(bucket, prefix, key) {
  if (!bucket) {
    const buckets = await api("buckets");
    view.replaceChildren(el("h1", { text: "Buckets" }), el("div", { class: "card" }, buckets.length ? el("ul", { class: "list-plain" },
      buckets.map((b) => el("li", {}, el("a", { href: "#/buckets/" + encodeURIComponent(b), text: "s3://" + b })))) : el("div", { class: "empty", text: "No buckets." })));
    return;
  }
  const listing = await api(`buckets/${encodeURIComponent(bucket)}?prefix=${encodeURIComponent(prefix)}`);
  const to = (p) => `#/buckets/${encodeURIComponent(bucket)}?prefix=${encodeURIComponent(p)}`;
  const crumbs = [el("a", { href: "#/buckets", text: "buckets" }), " / ", el("a", { href: to(""), text: bucket })];
  let acc = "";
  for (const part of prefix.split("/").filter(Boolean)) { acc += part + "/"; crumbs.push(" / ", el("a", { href: to(acc), text: part })); }
  const rows = [...listing.prefixes.map((p) => [el("a", { href: to(p), text: p.slice(prefix.length) }), "folder", ""]),
    ...listing.objects.map((o) => [el("a", { href: to(prefix) + "&key=" + encodeURIComponent(o.key), text: o.key.slice(prefix.length) }), String(o.size), fmtTime(o.lastModified)])];
  const preview = el("div");
  view.replaceChildren(el("h1", { class: "crumbs" }, crumbs), el("div", { class: "card" }, rows.length ? table(["Key", "Size", "Modified"], rows) : el("div", { class: "empty", text: "Empty." }),
    listing.truncated ? el("div", { class: "muted", text: "(first 1000 keys)" }) : ""), preview);
  if (key) {
    const o = await api(`object?bucket=${encodeURIComponent(bucket)}&key=${encodeURIComponent(key)}`);
    preview.append(el("div", { class: "card" }, el("h2", { text: `s3://${bucket}/${key}` }), el("div", { class: "muted", text: `${o.size} bytes, ${o.contentType}` }),
      o.text === null ? el("div", { class: "empty", text: "Binary content." }) : el("pre", { id: "object-preview", text: o.text + (o.truncated ? "\n…" : "") })));
  }
}

// -- Athena SQL --------------------------------------------------------------------------------------------
async function sqlPage(params) {
  const databases = await api("catalog");
  const box = el("textarea", { class: "sql", id: "sql", spellcheck: "false" });
  box.value = params.get("q") || (databases[0] && databases[0].Tables[0] ? `SELECT * FROM ${databases[0].Name}.${databases[0].Tables[0].Name} LIMIT 20` : "SELECT 1 AS one");
  const dbSelect = el("select", { id: "sql-db" }, el("option", { value: "", text: "default database" }), databases.map((d) => el("option", { value: d.Name, text: d.Name })));
  dbSelect.value = params.get("db") || "";
  const out = el("div", { id: "sql-result" });
  async function run() {
    out.replaceChildren(el("div", { class: "muted", text: "running…" }));
    try {
      const r = await api("query", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ sql: box.value, database: dbSelect.value || null }) });
      if (r.state !== "SUCCEEDED") {
        out.replaceChildren(el("div", { class: "error-box" }, el("b", { text: r.state + " " }), r.reason || ""));
        return;
      }
      out.replaceChildren(el("div", { class: "muted", text: r.columns.length ? `${r.rows.length} row(s)${r.truncated ? " (first 1000)" : ""} — ${r.outputLocation}` : `OK (${r.updateCount} row(s) affected)` }),
        r.columns.length ? table(r.columns.map((c) => c.name), r.rows.map((row) => row.map((v) => (v === null ? "NULL" : v)))) : "");
    } catch (err) {
      out.replaceChildren(el("div", { class: "error-box" }, String(err.message || err)));
    }
  }
  box.addEventListener("keydown", (e) => { if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) run(); });
  view.replaceChildren(el("h1", { text: "Athena SQL" }), el("div", { class: "card" }, box,
    el("div", { class: "filters" }, dbSelect, el("button", { id: "sql-run", onclick: run, text: "Run (Ctrl+Enter)" }))), out);
  if (params.get("q")) run();
}

route();
