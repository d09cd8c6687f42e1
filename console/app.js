// The console's pages, one hash route each: #/overview, #/failures, #/transaction/<point>/<id>, #/xref.
// Every value from the API is put in the page as text (textContent), never as HTML.

import { ApiError, call, loadConfig, transactionPath } from "./api.js";
import { SERIES, flowChart, outcomeClass, timelinePicture } from "./draw.js";

const HOURS = 12;
const STATES = ["FAILED", "RECEIVED", "IN_FLIGHT", "COMPLETED"];
const SYSTEMS = ["CCB", "MDM", "SEBL", "OSM", "BRM", "MWM", "WAM", "ODM", "DACS"];
const page = document.getElementById("page");
const status = document.getElementById("status");

function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else if (value !== undefined && value !== null && value !== false) element.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) if (child !== null && child !== undefined) element.append(child);
  return element;
}

function show(...children) {
  page.replaceChildren(...children.filter((child) => child !== null && child !== undefined));
}

function failure(error) {
  return h("p", { class: "problem" }, error instanceof ApiError ? `${error.status}: ${error.message}` : String(error.message || error));
}

function legend() {
  return h("p", { class: "legend" }, SERIES.map(([name, colour]) => h("span", {}, h("i", { style: `background:${colour}` }), name)));
}

let catalogue = null;
async function knownPoints() {
  if (!catalogue) catalogue = (await call("GET", "/ops/summary", { since: new Date().toISOString() })).body.catalogue;
  return catalogue;
}

// ------------------------------------------------------------------ overview
async function overview() {
  const since = new Date(Date.now() - HOURS * 3600 * 1000).toISOString();
  const { body } = await call("GET", "/ops/summary", { since, bucket: "3600" });
  catalogue = body.catalogue;
  const active = Object.fromEntries(body.points.map((point) => [point.point, point]));
  const points = [...body.catalogue, ...body.points.map((p) => p.point).filter((p) => !body.catalogue.includes(p))];
  const empty = (at) => ({ at, received: 0, completed: 0, failed: 0 });
  const hours = body.points[0]?.series.map((b) => b.at) || Array.from({ length: HOURS + 1 }, (_, n) => {
    const start = Math.floor(Date.parse(since) / 3600000) * 3600000;
    return new Date(start + n * 3600000).toISOString();
  });
  show(
    h("h1", {}, `Every integration point, the last ${HOURS} hours by the hour`),
    legend(),
    h("div", { class: "points" }, points.map((point) => {
      const counts = active[point] || { received: 0, completed: 0, failed: 0, inFlight: 0, series: hours.map(empty) };
      return h("section", { class: `point${active[point] ? "" : " idle"}`, "data-point": point },
        h("h2", {}, h("a", { href: `#/failures?point=${point}&state=FAILED` }, point),
          h("span", { class: "counts" }, `${counts.received} received`)),
        flowChart(point, counts.series),
        h("div", { class: "counts" }, `${counts.completed} completed · `, h("b", { class: counts.failed ? "failed" : "" }, `${counts.failed} failed`),
          ` · ${counts.inFlight} in flight`));
    })),
  );
}

// ------------------------------------------------------------------ failures
function resubmitButton(item, answerCell, stateCell) {
  const button = h("button", { type: "button", class: "resubmit", "data-id": item.id }, "Resubmit");
  button.addEventListener("click", async () => {
    button.disabled = true;
    answerCell.replaceChildren("resubmitting…");
    try {
      const { status: code, body } = await call("POST", `${transactionPath(item.point, item.id)}/resubmission`);
      answerCell.replaceChildren(`${code}: running again (${body.state})`);
      stateCell.replaceChildren(body.state);
      stateCell.className = `state state-${body.state}`;
    } catch (error) {
      answerCell.replaceChildren(failure(error));
      button.disabled = false;
    }
  });
  return button;
}

async function failures(query) {
  const point = query.get("point") || "";
  const state = query.get("state") || "FAILED";
  const points = await knownPoints();
  const form = h("form", { id: "find" },
    h("label", {}, "point", h("select", { name: "point" }, h("option", { value: "" }, "every point"),
      points.map((p) => h("option", { value: p, selected: p === point }, p)))),
    h("label", {}, "state", h("select", { name: "state" }, STATES.map((s) => h("option", { value: s, selected: s === state }, s)))),
    h("button", { type: "submit" }, "Find"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const wanted = new URLSearchParams(new FormData(form));
    location.hash = `#/failures?${wanted}`;
  });
  const { body } = await call("GET", "/ops/transactions", { point, state, limit: "100" });
  const rows = body.items.map((item) => {
    const answer = h("td", { class: "answer" });
    const stateCell = h("td", { class: `state state-${item.state}` }, item.state);
    return h("tr", { "data-id": item.id, "data-point": item.point },
      h("td", {}, item.point),
      h("td", {}, h("a", { href: `#/transaction/${item.point}/${encodeURIComponent(item.id)}` }, item.id)),
      stateCell,
      h("td", { class: "reason" }, item.reason || "—"),
      h("td", {}, item.updatedAt),
      h("td", {}, item.state === "FAILED" ? resubmitButton(item, answer, stateCell) : null),
      answer);
  });
  show(
    h("h1", {}, "Transactions by point and state"),
    form,
    rows.length
      ? h("table", { id: "transactions" },
        h("thead", {}, h("tr", {}, ["point", "id", "state", "reason", "updated", "", "answer"].map((t) => h("th", {}, t)))),
        h("tbody", {}, rows))
      : h("p", { id: "none" }, `No ${state} transaction${point ? ` at ${point}` : ""}.`),
    body.cursor ? h("p", { class: "answer" }, "Showing the newest 100.") : null,
  );
}

// ------------------------------------------------------------------ one transaction
async function transaction(point, id) {
  const { body } = await call("GET", transactionPath(point, id));
  const answer = h("span", { class: "answer" });
  const stateCell = h("dd", { class: `state state-${body.state}` }, `${body.state} (${body.detailState})`);
  show(
    h("h1", {}, `${point} ${id}`),
    h("dl", {},
      h("dt", {}, "state"), stateCell,
      h("dt", {}, "reason"), h("dd", {}, body.reason || "—"),
      h("dt", {}, "received"), h("dd", {}, body.receivedAt || "—"),
      h("dt", {}, "updated"), h("dd", {}, body.updatedAt)),
    body.state === "FAILED" ? h("p", {}, resubmitButton({ point, id }, answer, stateCell), " ", answer) : null,
    h("div", { class: "timeline" }, body.timeline.length ? timelinePicture(body.timeline) : h("p", {}, "No hops recorded (JournalHops=false?).")),
    h("table", { id: "hops" },
      h("thead", {}, h("tr", {}, ["#", "at", "system", "step", "outcome", "detail"].map((t) => h("th", {}, t)))),
      h("tbody", {}, body.timeline.map((hop, n) => h("tr", {},
        h("td", {}, String(n + 1)), h("td", {}, hop.at), h("td", {}, hop.system), h("td", {}, hop.step),
        h("td", { class: `state-${outcomeClass(hop.outcome) === "failed" ? "FAILED" : outcomeClass(hop.outcome) === "completed" ? "COMPLETED" : ""}` }, hop.outcome),
        h("td", {}, hop.detail))))),
  );
}

// ------------------------------------------------------------------ cross-references
async function crossReferences(query) {
  const system = query.get("system") || "CCB";
  const id = query.get("id") || "";
  const form = h("form", { id: "lookup" },
    h("label", {}, "system", h("select", { name: "system" }, SYSTEMS.map((s) => h("option", { value: s, selected: s === system }, s)))),
    h("label", {}, "id", h("input", { name: "id", value: id, required: true })),
    h("button", { type: "submit" }, "Look up"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    location.hash = `#/xref?${new URLSearchParams(new FormData(form))}`;
  });
  let result = null;
  if (id) {
    try {
      const { body } = await call("GET", "/ops/cross-references", { system, id });
      result = h("table", { id: "ids" },
        h("caption", {}, `${body.entityType} ${body.id} in ${body.system}`),
        h("thead", {}, h("tr", {}, h("th", {}, "system"), h("th", {}, "id"))),
        h("tbody", {}, Object.entries(body.ids).map(([s, value]) => h("tr", {}, h("td", {}, s), h("td", {}, value)))));
    } catch (error) {
      result = error instanceof ApiError && error.status === 404 ? h("p", { id: "none" }, `No link names ${id} in ${system}.`) : failure(error);
    }
  }
  show(h("h1", {}, "An entity's id in every system"), form, result);
}

// ------------------------------------------------------------------ routing
async function route() {
  const [path, search] = (location.hash.slice(1) || "/overview").split("?");
  const parts = path.split("/").filter(Boolean);
  const query = new URLSearchParams(search || "");
  document.querySelectorAll("nav a").forEach((a) => a.classList.toggle("current", a.dataset.page === (parts[0] === "transaction" ? "failures" : parts[0])));
  status.textContent = "loading…";
  try {
    if (parts[0] === "failures") await failures(query);
    else if (parts[0] === "transaction" && parts.length === 3) await transaction(decodeURIComponent(parts[1]), decodeURIComponent(parts[2]));
    else if (parts[0] === "xref") await crossReferences(query);
    else await overview();
    status.textContent = `updated ${new Date().toISOString().slice(11, 19)} UTC`;
  } catch (error) {
    show(failure(error));
    status.textContent = "";
  }
  document.body.dataset.ready = location.hash || "#/overview";
}

window.addEventListener("hashchange", route);
loadConfig().then(route, (error) => show(failure(error)));
