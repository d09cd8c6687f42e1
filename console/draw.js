// The pictures, drawn as inline SVG: a point's flow per bucket (a chart) and a transaction's timeline.

const SVG = "http://www.w3.org/2000/svg";
export const SERIES = [
  ["received", "var(--received)"],
  ["completed", "var(--completed)"],
  ["failed", "var(--failed)"],
];

export function svg(tag, attributes = {}, ...children) {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, value);
  for (const child of children) element.append(child);
  return element;
}

function titled(element, text) {
  element.append(svg("title", {}, text));
  return element;
}

function hour(at) {
  return new Date(at).toISOString().slice(11, 16);
}

// One group of three bars (received, completed, failed) per bucket, on a shared scale from 0 to the highest count.
export function flowChart(point, buckets, width = 240, height = 90) {
  const left = 22, bottom = 16, top = 6;
  const highest = Math.max(1, ...buckets.flatMap((b) => SERIES.map(([name]) => b[name])));
  const slot = (width - left) / Math.max(1, buckets.length);
  const bar = Math.max(1, (slot - 2) / SERIES.length);
  const y = (count) => top + (height - top - bottom) * (1 - count / highest);
  const chart = svg("svg", {
    class: "flow-chart", "data-point": point, width, height, viewBox: `0 0 ${width} ${height}`, role: "img",
    "aria-label": `${point}: received, completed and failed per bucket`,
  });
  chart.append(svg("line", { x1: left, x2: width, y1: y(0), y2: y(0), stroke: "var(--line)" }));
  chart.append(svg("text", { x: left - 4, y: y(highest) + 8, "text-anchor": "end" }, String(highest)));
  buckets.forEach((bucket, index) => {
    SERIES.forEach(([name, colour], n) => {
      const count = bucket[name];
      const mark = svg("rect", {
        class: `bar ${name}`, x: left + index * slot + 1 + n * bar, y: y(count), width: bar, height: y(0) - y(count), fill: colour,
      });
      chart.append(titled(mark, `${hour(bucket.at)} UTC: ${count} ${name}`));
    });
    if (index === 0 || index === buckets.length - 1 || buckets.length <= 6) {
      const anchor = index === buckets.length - 1 && buckets.length > 1 ? "end" : index === 0 ? "start" : "middle";
      const x = anchor === "end" ? width - 1 : anchor === "start" ? left + index * slot : left + index * slot + slot / 2;
      chart.append(svg("text", { x, y: height - 3, "text-anchor": anchor }, hour(bucket.at)));
    }
  });
  return chart;
}

// An outcome's colour: success green, failure red, anything else (RUNNING, SENT...) grey.
export function outcomeClass(outcome) {
  const text = String(outcome).toUpperCase();
  const status = /^HTTP (\d{3})$/.exec(text);
  if (status) return Number(status[1]) < 400 ? "completed" : "failed";
  if (/FAIL|ERROR|UNREACHABLE|TIMED_OUT|REJECT/.test(text)) return "failed";
  if (/SUCCEEDED|COMPLETED|SYNCHRONIZED|LINKED|DISCARDED|ACCEPTED/.test(text)) return "completed";
  return "other";
}

// Systems as lanes (in the order they first appear), hops as marks in time order, each joined to the next.
export function timelinePicture(hops) {
  const lanes = [...new Set(hops.map((hop) => hop.system))];
  // marks 90 px apart, closer (down to 48) for a long timeline, so that most fit a page's width
  const laneHeight = 50, left = 70, top = 24;
  const step = Math.max(48, Math.min(90, 1100 / Math.max(1, hops.length)));
  const width = left + Math.max(1, hops.length) * step + 20;
  const height = top + lanes.length * laneHeight + 10;
  const picture = svg("svg", { class: "timeline-picture", width, height, viewBox: `0 0 ${width} ${height}`, role: "img",
    "aria-label": `timeline of ${hops.length} hops across ${lanes.join(", ")}` });
  const laneY = (system) => top + lanes.indexOf(system) * laneHeight + laneHeight / 2;
  lanes.forEach((system) => {
    picture.append(svg("line", { x1: left - 8, x2: width - 10, y1: laneY(system), y2: laneY(system), stroke: "var(--line)" }));
    picture.append(svg("text", { class: "lane", "data-system": system, x: 6, y: laneY(system) + 4 }, system));
  });
  const x = (index) => left + index * step + step / 2;
  hops.forEach((hop, index) => {
    if (index > 0) {
      const before = hops[index - 1];
      picture.append(svg("line", { x1: x(index - 1), y1: laneY(before.system), x2: x(index), y2: laneY(hop.system),
        stroke: "var(--other)", "stroke-dasharray": "3 3" }));
    }
  });
  hops.forEach((hop, index) => {
    const kind = outcomeClass(hop.outcome);
    const mark = svg("circle", { class: `hop ${kind}`, "data-step": hop.step, cx: x(index), cy: laneY(hop.system), r: 7,
      fill: `var(--${kind})` });
    picture.append(titled(mark, `${hop.at}\n${hop.system}: ${hop.step} → ${hop.outcome}${hop.detail ? `\n${hop.detail}` : ""}`));
    // outcomes above and below the lane in turn, so that neighbours' labels do not overlap
    const labelY = index % 2 ? laneY(hop.system) + 21 : laneY(hop.system) - 11;
    picture.append(svg("text", { x: x(index), y: labelY, "text-anchor": "middle" }, hop.outcome));
    picture.append(svg("text", { x: x(index), y: top - 10, "text-anchor": "middle" }, `${index + 1}`));
  });
  return picture;
}
