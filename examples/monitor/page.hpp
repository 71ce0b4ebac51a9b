// monitor: the live page served at /, one self-contained HTML document (inline CSS and
// JavaScript, nothing fetched from elsewhere) that polls /api/snapshot every second and draws
// the streams, their publishers and their subjects. Light or dark as the browser prefers.
// Knows nothing of C++ beyond being a string; it knows the JSON of api.hpp.
// SPDX-License-Identifier: MIT
#pragma once

#include <string_view>

namespace racket_examples::monitor {

inline constexpr std::string_view page_html = R"page(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>Racket monitor</title>
<style>
:root {
  --bg: #f6f7f9; --panel: #ffffff; --text: #1c2430; --muted: #6a7585; --line: #e3e7ec;
  --head: #f0f2f5; --accent: #2f6fde; --ok: #1f9d55; --warn: #c7831a; --bad: #d0453a;
  --flash: #fff1b8; --mono: ui-monospace, "SFMono-Regular", "DejaVu Sans Mono", Menlo, Consolas, monospace;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #12161c; --panel: #1a2029; --text: #dde3ea; --muted: #8b96a5; --line: #2a323d;
    --head: #202833; --accent: #6ea0ff; --ok: #3fcf7f; --warn: #e0a640; --bad: #ff6b5e; --flash: #4a4018;
  }
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--text);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; }
header { display: flex; align-items: baseline; gap: 18px; flex-wrap: wrap; padding: 14px 24px;
  background: var(--panel); border-bottom: 1px solid var(--line); position: sticky; top: 0; z-index: 1; }
header h1 { font-size: 18px; margin: 0; font-weight: 650; letter-spacing: .2px; }
header h1 span { color: var(--accent); }
.meta { color: var(--muted); font-size: 13px; }
.meta b { color: var(--text); font-weight: 600; font-variant-numeric: tabular-nums; }
.status { margin-left: auto; font-size: 13px; display: flex; align-items: center; gap: 6px; }
.dot { width: 9px; height: 9px; border-radius: 50%; background: var(--muted); display: inline-block; }
.live .dot { background: var(--ok); box-shadow: 0 0 0 3px color-mix(in srgb, var(--ok) 25%, transparent); }
.down .dot { background: var(--bad); }
main { padding: 20px 24px 8px; max-width: 1400px; margin: 0 auto; }
.empty { color: var(--muted); text-align: center; padding: 60px 0; }
section.stream { background: var(--panel); border: 1px solid var(--line); border-radius: 10px;
  margin-bottom: 20px; overflow: hidden; }
.stream-head { display: flex; align-items: baseline; gap: 12px; flex-wrap: wrap; padding: 12px 16px;
  border-bottom: 1px solid var(--line); }
.stream-head h2 { margin: 0; font-size: 16px; font-weight: 650; font-family: var(--mono); }
.stream-head .endpoint { color: var(--muted); font-family: var(--mono); font-size: 12px; }
.chips { display: flex; gap: 8px; flex-wrap: wrap; margin-left: auto; }
.chip { background: var(--head); border-radius: 999px; padding: 2px 10px; font-size: 12px; color: var(--muted);
  font-variant-numeric: tabular-nums; white-space: nowrap; }
.chip b { color: var(--text); font-weight: 600; }
.chip.warn b { color: var(--warn); }
.chip.bad b { color: var(--bad); }
.error { color: var(--bad); padding: 8px 16px; }
h3 { font-size: 12px; text-transform: uppercase; letter-spacing: .6px; color: var(--muted); margin: 14px 16px 6px;
  font-weight: 600; }
table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; table-layout: auto; }
th, td { padding: 5px 16px; text-align: left; border-top: 1px solid var(--line); white-space: nowrap; }
th { font-size: 12px; color: var(--muted); font-weight: 600; background: var(--head); }
td.num, th.num { text-align: right; }
td.mono { font-family: var(--mono); font-size: 13px; }
td.value { font-family: var(--mono); font-size: 13px; max-width: 480px; overflow: hidden; text-overflow: ellipsis;
  width: 100%; }
td.value .hex { color: var(--muted); }
td.value .cut { color: var(--muted); }
td.muted, span.muted { color: var(--muted); }
tr.changed td.value { animation: flash 1.2s ease-out; }
@keyframes flash { from { background: var(--flash); } to { background: transparent; } }
.old { color: var(--warn); }
.none { color: var(--muted); padding: 6px 16px 12px; font-size: 13px; }
footer { color: var(--muted); font-size: 12px; padding: 4px 24px 24px; max-width: 1400px; margin: 0 auto; }
footer a { color: var(--accent); text-decoration: none; margin-right: 14px; }
footer .counters { font-family: var(--mono); margin-top: 6px; word-break: break-word; }
</style>
</head>
<body>
<header>
  <h1><span>Racket</span> monitor</h1>
  <div class="meta">pool <b id="pool">-</b></div>
  <div class="meta">streams <b id="nstreams">0</b></div>
  <div class="meta">up <b id="uptime">-</b></div>
  <div class="status" id="status"><span class="dot"></span><span id="status-text">connecting</span></div>
</header>
<main id="streams"><div class="empty">Waiting for streams to be announced&hellip;</div></main>
<footer>
  <a href="api/streams">/api/streams</a><a href="api/snapshot">/api/snapshot</a><a href="metrics">/metrics</a>
  <span id="version"></span>
  <div class="counters" id="counters"></div>
</footer>
<script>
"use strict";
const last = new Map();  // stream + subject -> xxh3 seen on the previous poll
const el = (tag, cls, text) => {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
};
const fmtInt = n => Number(n).toLocaleString("en-US");
const fmtRate = r => r >= 100 ? fmtInt(Math.round(r)) : (Math.round(r * 10) / 10).toFixed(1);
const fmtAge = ms => {
  if (ms < 0) return "never";
  if (ms < 1000) return "now";
  const s = ms / 1000;
  if (s < 60) return Math.floor(s) + " s";
  if (s < 3600) return Math.floor(s / 60) + " min " + (Math.floor(s) % 60) + " s";
  if (s < 86400) return Math.floor(s / 3600) + " h " + (Math.floor(s / 60) % 60) + " min";
  return Math.floor(s / 86400) + " d " + (Math.floor(s / 3600) % 24) + " h";
};
const fmtSize = n => n < 1024 ? n + " B" : n < 1048576 ? (n / 1024).toFixed(1) + " KiB" : (n / 1048576).toFixed(1) + " MiB";
function chip(label, value, cls) {
  const c = el("span", "chip" + (cls ? " " + cls : ""));
  c.append(el("b", null, value), " " + label);
  return c;
}
function table(columns, rows) {
  const t = el("table"), head = el("tr");
  for (const [name, cls] of columns) head.append(el("th", cls || null, name));
  t.append(head);
  for (const r of rows) t.append(r);
  return t;
}
function cell(tr, text, cls, title) {
  const td = el("td", cls || null, text);
  if (title) td.title = title;
  tr.append(td);
  return td;
}
function renderStream(s) {
  const sec = el("section", "stream");
  sec.dataset.stream = s.name;
  const head = el("div", "stream-head");
  head.append(el("h2", null, s.name), el("span", "endpoint", s.endpoint));
  const chips = el("div", "chips");
  chips.append(chip("msgs/s", fmtRate(s.rate)), chip("publishers", fmtInt(s.publishers.length)),
    chip("subjects", fmtInt(s.subjects.length)), chip("received", fmtInt(s.received)),
    chip("gaps", fmtInt(s.gaps), s.gaps ? "warn" : ""), chip("repairs", fmtInt(s.repairs), s.repairs ? "warn" : ""),
    chip("malformed", fmtInt(s.malformed), s.malformed ? "bad" : ""));
  if (s.subscribers) chips.append(chip("other subscribers", fmtInt(s.subscribers)));
  head.append(chips);
  sec.append(head);
  if (s.error) sec.append(el("div", "error", s.error));

  sec.append(el("h3", null, "Publishers"));
  if (!s.publishers.length) {
    sec.append(el("div", "none", "No publisher heard yet."));
  } else {
    const rows = s.publishers.map(p => {
      const tr = el("tr");
      cell(tr, p.id, "mono");
      cell(tr, p.host || p.host_hex || "?", p.host ? null : "muted");
      cell(tr, p.program || p.program_hex || "?", p.program ? null : "muted");
      cell(tr, p.pid ? String(p.pid) : "", "num");
      cell(tr, fmtRate(p.rate), "num", "announced: " + fmtRate(p.announced_rate) + " msgs/s");
      cell(tr, fmtInt(p.messages), "num");
      cell(tr, fmtInt(p.gaps), "num" + (p.gaps ? " old" : ""));
      cell(tr, p.announced ? fmtInt(p.announced_subjects) : "", "num");
      cell(tr, fmtAge(p.last_heard_ms), "num" + (p.last_heard_ms > 10000 ? " old" : ""));
      return tr;
    });
    sec.append(table([["Publisher"], ["Host"], ["Program"], ["PID", "num"], ["Msgs/s", "num"], ["Messages", "num"],
      ["Gaps", "num"], ["Subjects", "num"], ["Last heard", "num"]], rows));
  }

  sec.append(el("h3", null, "Subjects"));
  if (!s.subjects.length) {
    sec.append(el("div", "none", "No value received yet."));
  } else {
    const rows = s.subjects.map(v => {
      const tr = el("tr");
      const key = s.name + "\u0000" + v.subject;
      if (last.has(key) && last.get(key) !== v.xxh3) tr.className = "changed";
      last.set(key, v.xxh3);
      cell(tr, v.subject, "mono");
      const val = cell(tr, "", "value", "xxh3 " + v.xxh3 + ", sequence " + v.sequence);
      if (v.text !== undefined) {
        val.append(v.text === "" ? el("span", "muted", "(empty)") : v.text);
      } else {
        val.append(el("span", "hex", "hex "), v.hex);
      }
      if (v.cut) val.append(el("span", "cut", " \u2026"));
      cell(tr, fmtSize(v.size), "num");
      cell(tr, fmtAge(v.age_ms), "num", "since the value last changed (resends of a same value are not counted)");
      cell(tr, fmtInt(v.updates), "num");
      cell(tr, v.publisher.slice(0, 8), "mono muted", v.publisher);
      return tr;
    });
    sec.append(table([["Subject"], ["Value"], ["Size", "num"], ["Age", "num"], ["Updates", "num"],
      ["Publisher"]], rows));
  }
  return sec;
}
function render(d) {
  document.getElementById("pool").textContent = d.pool;
  document.getElementById("nstreams").textContent = d.streams.length;
  document.getElementById("uptime").textContent = fmtAge(d.uptime_ms).replace("now", "0 s");
  document.getElementById("version").textContent = "racket " + d.version;
  const main = document.getElementById("streams");
  if (!d.streams.length) {
    main.replaceChildren(el("div", "empty", "Waiting for streams to be announced\u2026"));
  } else {
    main.replaceChildren(...d.streams.map(renderStream));
  }
  const t = d.transport;
  document.getElementById("counters").textContent = "transport: received " + fmtInt(t.datagrams_received) +
    " datagrams, " + fmtInt(t.bytes_received) + " bytes, kernel drops " + fmtInt(t.kernel_drops) +
    " \u00b7 directory: " + fmtInt(d.directory.announcements) + " announcements, " + fmtInt(d.directory.entries) +
    " entries";
}
function setStatus(ok, text) {
  const s = document.getElementById("status");
  s.className = "status " + (ok ? "live" : "down");
  document.getElementById("status-text").textContent = text;
}
async function poll() {
  try {
    const r = await fetch("api/snapshot", { cache: "no-store" });
    if (!r.ok) throw new Error("HTTP " + r.status);
    render(await r.json());
    setStatus(true, "live \u00b7 " + new Date().toLocaleTimeString());
  } catch (e) {
    setStatus(false, "monitor unreachable");
  }
  setTimeout(poll, 1000);
}
poll();
</script>
</body>
</html>
)page";

}  // namespace racket_examples::monitor
