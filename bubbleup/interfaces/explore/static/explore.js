// bubbleup explore: the heatmap, the box, the answer and the drill path.
//
// One plain ES module for the local web page (served by bubbleup/interfaces/explore/server.py) and
// for the Jupyter widget (anywidget's `render`). It asks for a view through a transport
// (fetch on the page, synced traits in the widget) and draws what comes back. Text from
// the data is only ever set with textContent (control characters shown escaped); HTML
// comes only from the server, where bubbleup's report pieces escape every value.

const SELECTION = "176, 32, 155";
const BASELINE = "31, 143, 176";
const MARGIN = { left: 64, right: 8, top: 8, bottom: 34 };
const SUPERSEDED_RETRIES = 5; // asking again when a request reached the server out of order

/** Control characters as visible escapes (newlines and tabs kept). */
export function visible(text) {
  return String(text).replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/g,
    (c) => "\\x" + c.charCodeAt(0).toString(16).padStart(2, "0"));
}

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "text") node.textContent = visible(value);
    else if (key === "class") node.className = value;
    else if (key.startsWith("data-")) node.setAttribute(key, value);
    else node[key] = value;
  }
  for (const child of children) if (child) node.append(child);
  return node;
}

/** The box over time buckets i0..i1 and value buckets j0..j1, as SQL (see heatmap.box_sql). */
export function boxSql(heat, i0, i1, j0, j1) {
  const [a, b] = i0 <= i1 ? [i0, i1] : [i1, i0];
  const [c, d] = j0 <= j1 ? [j0, j1] : [j1, j0];
  const t = heat.time_ident, v = heat.value_ident;
  return `${t} >= ${heat.time_sql[a]} AND ${t} < ${heat.time_sql[b + 1]} ` +
    `AND ${v} >= ${heat.value_sql[c]} AND ${v} ${heat.value_upper_sql[d + 1]}`;
}

function shortTime(iso, spanMs) {
  const t = new Date(iso);
  const pad = (n) => String(n).padStart(2, "0");
  const day = `${t.getUTCFullYear()}-${pad(t.getUTCMonth() + 1)}-${pad(t.getUTCDate())}`;
  const hm = `${pad(t.getUTCHours())}:${pad(t.getUTCMinutes())}`;
  if (spanMs > 3 * 86400e3) return day;
  if (spanMs > 86400e3) return `${day.slice(5)} ${hm}`;
  return hm;
}

function shortNumber(x) {
  const a = Math.abs(x);
  if (a >= 1e9) return (x / 1e9).toPrecision(3).replace(/\.?0+$/, "") + "G";
  if (a >= 1e6) return (x / 1e6).toPrecision(3).replace(/\.?0+$/, "") + "M";
  if (a >= 1e4) return (x / 1e3).toPrecision(3).replace(/\.?0+$/, "") + "k";
  return String(Math.round(x * 100) / 100);
}

/** The heatmap on a canvas, with a box that can be dragged over it. */
class Heatmap {
  constructor(canvas, onBox) {
    this.canvas = canvas;
    this.onBox = onBox;
    this.data = null;
    this.drag = null;
    canvas.addEventListener("pointerdown", (e) => this.down(e));
    canvas.addEventListener("pointermove", (e) => this.move(e));
    canvas.addEventListener("pointerup", (e) => this.up(e));
  }

  cell(e) {
    const d = this.data;
    const r = this.canvas.getBoundingClientRect();
    const sx = this.canvas.width / r.width, sy = this.canvas.height / r.height;
    const x = (e.clientX - r.left) * sx - MARGIN.left;
    const y = (e.clientY - r.top) * sy - MARGIN.top;
    const nx = d.time_edges.length - 1, ny = d.value_edges.length - 1;
    const w = (this.canvas.width - MARGIN.left - MARGIN.right) / nx;
    const h = (this.canvas.height - MARGIN.top - MARGIN.bottom) / ny;
    const i = Math.min(nx - 1, Math.max(0, Math.floor(x / w)));
    const j = Math.min(ny - 1, Math.max(0, ny - 1 - Math.floor(y / h)));
    return [i, j];
  }

  down(e) {
    if (!this.data) return;
    this.canvas.setPointerCapture(e.pointerId);
    const [i, j] = this.cell(e);
    this.drag = { i0: i, j0: j, i1: i, j1: j };
    this.draw();
  }

  move(e) {
    if (!this.drag) return;
    [this.drag.i1, this.drag.j1] = this.cell(e);
    this.draw();
  }

  up(e) {
    if (!this.drag) return;
    [this.drag.i1, this.drag.j1] = this.cell(e);
    const { i0, i1, j0, j1 } = this.drag;
    this.box = this.drag;
    this.drag = null;
    this.draw();
    this.onBox(boxSql(this.data, i0, i1, j0, j1));
  }

  show(data) {
    const same = (a, b) => a && b && JSON.stringify([a.time_edges, a.value_edges]) ===
      JSON.stringify([b.time_edges, b.value_edges]);
    if (!same(this.data, data)) this.box = null; // the dragged box stays on the same cells
    this.data = data;
    this.draw();
  }

  draw() {
    const c = this.canvas, g = c.getContext("2d"), d = this.data;
    g.clearRect(0, 0, c.width, c.height);
    c.dataset.cells = "0";
    if (!d) return;
    const nx = d.time_edges.length - 1, ny = d.value_edges.length - 1;
    const W = c.width - MARGIN.left - MARGIN.right, H = c.height - MARGIN.top - MARGIN.bottom;
    const w = W / nx, h = H / ny;
    let maxB = 1, maxS = 1;
    for (let j = 0; j < ny; j++) {
      for (let i = 0; i < nx; i++) {
        maxB = Math.max(maxB, d.baseline[j][i]);
        maxS = Math.max(maxS, d.selection[j][i]);
      }
    }
    let drawn = 0, selected = 0;
    for (let j = 0; j < ny; j++) {
      for (let i = 0; i < nx; i++) {
        const b = d.baseline[j][i], s = d.selection[j][i];
        if (b + s > 0) drawn += 1;
        selected += s;
        const x = MARGIN.left + i * w, y = MARGIN.top + (ny - 1 - j) * h;
        if (b > 0) {
          g.fillStyle = `rgba(${BASELINE}, ${0.12 + 0.88 * Math.log1p(b) / Math.log1p(maxB)})`;
          g.fillRect(x, y, w + 0.5, h + 0.5);
        }
        if (s > 0) {
          g.fillStyle = `rgba(${SELECTION}, ${0.35 + 0.65 * Math.log1p(s) / Math.log1p(maxS)})`;
          g.fillRect(x, y, w + 0.5, h + 0.5);
        }
      }
    }
    c.dataset.cells = String(drawn);
    c.dataset.selected = String(selected);
    const ink = getComputedStyle(c).color || "#555";
    g.strokeStyle = ink;
    g.fillStyle = ink;
    g.lineWidth = 1;
    g.strokeRect(MARGIN.left, MARGIN.top, W, H);
    g.font = "11px system-ui, sans-serif";
    g.textAlign = "right";
    g.textBaseline = "middle";
    const yTicks = 6;
    for (let k = 0; k <= yTicks; k++) {
      const j = Math.round((k * ny) / yTicks);
      g.fillText(shortNumber(d.value_edges[j]), MARGIN.left - 4, MARGIN.top + H - j * h);
    }
    g.textAlign = "center";
    g.textBaseline = "top";
    const span = new Date(d.time_edges[nx]) - new Date(d.time_edges[0]);
    const xTicks = 5;
    for (let k = 0; k <= xTicks; k++) {
      const i = Math.round((k * nx) / xTicks);
      g.fillText(shortTime(d.time_edges[i], span), MARGIN.left + i * w, MARGIN.top + H + 6);
    }
    const box = this.drag || this.box;
    if (box) {
      const [a, b] = [Math.min(box.i0, box.i1), Math.max(box.i0, box.i1)];
      const [p, q] = [Math.min(box.j0, box.j1), Math.max(box.j0, box.j1)];
      g.strokeStyle = "#e8a400";
      g.lineWidth = 2;
      g.strokeRect(MARGIN.left + a * w, MARGIN.top + (ny - 1 - q) * h, (b - a + 1) * w,
        (q - p + 1) * h);
    }
  }
}

/** The explore view: controls, heatmap, drill path and answer, in `root`. */
export class Explore {
  constructor(root, request, { onView, heat } = {}) {
    this.root = root;
    this.request = request;
    this.requestHeat = heat || null;
    this.onView = onView || (() => {});
    this.view = { where: null, steps: [], y: null };
    this.serial = 0;
    this.build();
  }

  build() {
    const r = this.root;
    r.classList.add("bubbleup-explore");
    r.replaceChildren();
    this.source = el("span", { class: "bx-source" });
    this.status = el("span", { class: "bx-status", role: "status" });
    this.column = el("select", { class: "bx-y", title: "value axis of the heatmap" });
    this.column.addEventListener("change", () => this.go({ ...this.view, y: this.column.value }));
    this.where = el("textarea", {
      class: "bx-where", rows: 2, spellcheck: false,
      placeholder: "drag a box on the heatmap, or write a SQL condition: status >= 500",
    });
    const form = el("form", { class: "bx-form" }, this.where,
      el("button", { type: "submit", text: "select" }));
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      this.go({ ...this.view, where: this.where.value.trim() || null });
    });
    this.crumbs = el("nav", { class: "bx-crumbs", "aria-label": "drill path" });
    this.canvas = el("canvas", { class: "bx-heat", width: 640, height: 340 });
    this.heat = new Heatmap(this.canvas, (sql) => this.go({ ...this.view, where: sql }));
    this.heatNote = el("p", { class: "bx-note" });
    this.weighed = el("span", { class: "bx-weighed", text: "events" });
    const legend = el("p", { class: "bx-legend" },
      el("span", { class: "bx-swatch bx-sel" }), "selection ",
      el("span", { class: "bx-swatch bx-base" }), "baseline (darker: more ", this.weighed, ")");
    this.error = el("p", { class: "bx-error", role: "alert" });
    this.command = el("pre", { class: "bx-command" });
    this.sql = el("pre", { class: "bx-sql" });
    this.answer = el("div", { class: "bx-answer" });
    r.append(
      el("header", { class: "bx-head" }, el("strong", { text: "bubbleup explore" }), this.source),
      el("div", { class: "bx-controls" },
        el("label", {}, "value ", this.column), form, this.status),
      this.crumbs,
      el("div", { class: "bx-main" },
        el("section", { class: "bx-left" }, this.canvas, legend, this.heatNote),
        el("section", { class: "bx-right" }, this.error,
          el("h3", { text: "command" }), this.copyable(this.command),
          el("h3", { text: "selection SQL" }), this.copyable(this.sql))),
      this.answer,
    );
  }

  copyable(pre) {
    const button = el("button", { type: "button", class: "bx-copy", text: "copy" });
    button.addEventListener("click", () => {
      const done = () => { button.textContent = "copied"; };
      const text = pre.dataset.text || pre.textContent;
      if (navigator.clipboard) navigator.clipboard.writeText(text).then(done, () => select(pre));
      else select(pre);
    });
    return el("div", { class: "bx-copyable" }, pre, button);
  }

  /** Ask for a view (a new one supersedes any older one still being counted). */
  async go(view, { record = true } = {}) {
    const serial = ++this.serial;
    this.view = { where: view.where || null, steps: view.steps || [], y: view.y || null };
    if (record) this.onView(this.view);
    this.where.value = this.view.where || "";
    this.drawCrumbs();
    this.busy(true);
    if (this.requestHeat) {
      // the heatmap alone comes back at once: draw it while the answer is counted
      this.requestHeat(this.view).then((d) => {
        if (serial === this.serial && this.root.dataset.state === "loading" && d && d.view) {
          this.showHeat(d);
        }
      }, () => {});
    }
    let data = null;
    try {
      // The server answers "superseded" when a newer request reached it first. Requests
      // sent close together may reach it out of order, so while this view is still the
      // newest the page asked for, ask again (a few times: another tab may be asking too).
      for (let attempt = 0; data === null && attempt < SUPERSEDED_RETRIES; attempt++) {
        data = await this.request(this.view);
        if (serial !== this.serial) return; // superseded here, in the page
      }
    } catch (err) {
      if (serial !== this.serial || (err && err.name === "AbortError")) return;
      this.busy(false, String(err && err.message ? err.message : err));
      return;
    }
    if (data === null) {
      this.busy(false, "another view was being counted at the same time (another tab?): ask again");
      return;
    }
    if (data.view) this.show(data);
    this.busy(false, data.error || "");
  }

  busy(on, error = "") {
    clearInterval(this.timer);
    this.error.textContent = visible(error);
    this.root.dataset.state = on ? "loading" : error ? "error" : "ready";
    if (on) {
      const start = performance.now();
      const tick = () => {
        const s = ((performance.now() - start) / 1000).toFixed(1);
        this.status.textContent = `counting… ${s} s`;
      };
      tick();
      this.timer = setInterval(tick, 100);
      this.root.classList.add("bx-busy");
    } else {
      this.status.textContent = error ? "" : "ready";
      this.root.classList.remove("bx-busy");
    }
  }

  drawCrumbs() {
    const steps = this.view.steps;
    const all = el("button", { type: "button", class: "bx-crumb", text: "all events" });
    all.disabled = steps.length === 0;
    all.addEventListener("click", () => this.go({ ...this.view, steps: [] }));
    const parts = [all];
    steps.forEach(([kind, sql], k) => {
      const text = `${kind === "only" ? "only" : "not"} ${sql}`;
      const go = el("button", { type: "button", class: "bx-crumb", text, title: "go back to here" });
      go.disabled = k === steps.length - 1;
      go.addEventListener("click", () => this.go({ ...this.view, steps: steps.slice(0, k + 1) }));
      const undo = el("button", { type: "button", class: "bx-undo", text: "×",
        title: "undo this step" });
      undo.addEventListener("click", () =>
        this.go({ ...this.view, steps: steps.filter((_, m) => m !== k) }));
      parts.push(el("span", { class: "bx-sep", text: "›" }), el("span", { class: "bx-step",
        "data-kind": kind }, go, undo));
    });
    this.crumbs.replaceChildren(...parts);
  }

  drill(kind, sql) {
    this.go({ ...this.view, steps: [...this.view.steps, [kind, sql]] });
  }

  actions(sql, small = false) {
    const only = el("button", { type: "button", class: "bx-only", text: small ? "only" : "only these",
      title: `keep only the events where ${visible(sql)}` });
    const not = el("button", { type: "button", class: "bx-not", text: small ? "not" : "not these",
      title: `leave out the events where ${visible(sql)}` });
    only.addEventListener("click", () => this.drill("only", sql));
    not.addEventListener("click", () => this.drill("not", sql));
    return el("span", { class: "bx-actions" }, only, not);
  }

  showHeat(data) {
    const cols = data.columns || [];
    this.column.replaceChildren(...cols.map((c) => el("option", { value: c, text: c })));
    this.column.value = data.value_column || "";
    this.column.disabled = cols.length === 0;
    if (data.heatmap) {
      const h = data.heatmap;
      this.heat.show(h);
      // the cells count events as the answer does: each with its weight (sample rate)
      this.weighed.textContent = visible(h.weight_column ? `events, weighted by ${h.weight_column}` +
        (h.weight_scale !== 1 ? ` × ${h.weight_scale.toPrecision(3)}` : "") : "events");
      this.heatNote.textContent = visible(
        `${h.time_column} × ${h.value_column}` + (h.log ? " (log scale)" : "") +
        (h.missing ? `; ${shortNumber(h.missing)} events without a time or a value` : ""));
    } else {
      this.heat.show(null);
      this.heatNote.textContent = "no heatmap: the events need a datetime column and a numeric one";
    }
  }

  show(data) {
    this.source.textContent = visible(data.source || "");
    this.showHeat(data);
    const noCommand = "# this source is an in-memory frame: no command line reproduces it";
    this.command.textContent = visible(data.command || (data.view.where ? noCommand : ""));
    this.command.dataset.text = data.command || "";
    this.sql.textContent = visible(data.sql || "");
    this.sql.dataset.text = data.sql || "";
    if (!data.html) {
      this.answer.replaceChildren(data.error ? "" : el("p", { class: "bx-note",
        text: "Drag a box around the weird events on the heatmap, or write a condition." }));
      return;
    }
    const section = (title, html) => {
      const body = el("div", { class: "bx-piece" });
      body.innerHTML = html; // bubbleup.outputs.report's pieces: every value escaped server-side
      return [el("h2", { text: title }), body];
    };
    const [h1, compared] = section("What was compared", data.html.compared);
    const [h2, table] = section("Explanations", data.html.explanations);
    const [h3, figures] = section("Selection and baseline, attribute by attribute", data.html.charts);
    const [h4, attrs] = section("Attributes by distance", data.html.attributes);
    const restated = el("div", { class: "bx-piece" });
    restated.innerHTML = data.html.restatements || ""; // escaped server-side, as above
    const [h5, outcomes] = section("Outcomes", data.html.outcomes || "");
    const head = table.querySelector("thead tr");
    if (head) head.append(el("th", { text: "drill" }));
    table.querySelectorAll("tbody tr").forEach((tr, k) => {
      const ex = data.explanations[k];
      if (ex) tr.append(el("td", {}, this.actions(ex.sql)));
    });
    figures.querySelectorAll("figure").forEach((fig, k) => {
      const chart = data.charts[k];
      if (!chart) return;
      const list = el("ul", { class: "bx-values" });
      for (const v of chart.values) {
        list.append(el("li", {}, el("bdi", { text: v.label }), v.sql ? this.actions(v.sql, true) : null));
      }
      fig.append(list);
    });
    const tail = data.html.outcomes ? [h5, outcomes] : [];
    this.answer.replaceChildren(h2, restated, table, ...tail, h3, figures, h1, compared, h4, attrs);
  }
}

function select(node) {
  const range = document.createRange();
  range.selectNodeContents(node);
  const s = window.getSelection();
  s.removeAllRanges();
  s.addRange(range);
}

// -- the page ------------------------------------------------------------------------------

function viewFromAddress(search) {
  const p = new URLSearchParams(search);
  const steps = [];
  for (const [key, value] of p) if (key === "only" || key === "not") steps.push([key, value]);
  return { where: p.get("where") || null, steps, y: p.get("y") || null };
}

function addressOf(view, token) {
  const p = new URLSearchParams();
  p.set("token", token);
  if (view.where) p.set("where", view.where);
  for (const [kind, sql] of view.steps) p.append(kind, sql);
  if (view.y) p.set("y", view.y);
  return "?" + p.toString();
}

function fetchTransport(token, path = "/api/view") {
  let controller = null;
  return async (view) => {
    if (controller) controller.abort();
    controller = new AbortController();
    const response = await fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-Bubbleup-Token": token },
      body: JSON.stringify(view),
      signal: controller.signal,
    });
    const data = await response.json();
    if (response.status === 409) return null;
    return data;
  };
}

function bootPage() {
  const token = new URLSearchParams(location.search).get("token") || "";
  const root = document.getElementById("bubbleup-explore");
  const app = new Explore(root, fetchTransport(token), {
    heat: fetchTransport(token, "/api/heatmap"),
    onView: (view) => history.pushState(view, "", addressOf(view, token)),
  });
  window.addEventListener("popstate", () => app.go(viewFromAddress(location.search), { record: false }));
  const first = viewFromAddress(location.search);
  history.replaceState(first, "", addressOf(first, token));
  app.go(first, { record: false });
}

if (typeof document !== "undefined" && document.body && document.body.dataset.bubbleupPage) {
  bootPage();
}

// -- the notebook widget (anywidget) --------------------------------------------------------

function modelTransport(model) {
  let waiting = null;
  let id = 0;
  model.on("change:response", () => {
    const r = model.get("response");
    if (waiting && r && r.id === waiting.id) {
      const w = waiting;
      waiting = null;
      w.resolve(r.data);
    }
  });
  return (view) => new Promise((resolve) => {
    if (waiting) waiting.resolve(null); // superseded
    id += 1;
    waiting = { id, resolve };
    model.set("request", { id, view });
    model.save_changes();
  });
}

function render({ model, el: host }) {
  const root = document.createElement("div");
  host.append(root);
  const app = new Explore(root, modelTransport(model), {
    onView: (view) => {
      model.set("view", view);
      model.save_changes();
    },
  });
  app.go(model.get("view") || { where: null, steps: [], y: null }, { record: false });
  // a view set from Python (w.select(...)) is shown too
  model.on("change:view", () => {
    const view = model.get("view");
    if (view && JSON.stringify(view) !== JSON.stringify(app.view)) app.go(view, { record: false });
  });
}

export default { render };
