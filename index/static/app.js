// The NewsQA page: ask the API, show the answer with its [n] markers and the cited passages.
// Article text is only ever inserted with textContent / text nodes, never as HTML.
"use strict";

const $ = (id) => document.getElementById(id);
const KEY_STORE = "newsqa-api-key";

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (name === "text") node.textContent = value;
    else node.setAttribute(name, value);
  }
  for (const child of children) node.append(child);
  return node;
}

async function api(path, options = {}) {
  const headers = { "Accept": "application/json", ...(options.headers || {}) };
  const key = $("api-key").value || sessionStorage.getItem(KEY_STORE);
  if (key) headers["X-API-Key"] = key;
  const response = await fetch(path, { ...options, headers });
  let body = null;
  try { body = await response.json(); } catch (_) { /* not JSON: reported below */ }
  if (response.status === 401) {
    $("key-row").hidden = false;
    sessionStorage.removeItem(KEY_STORE);
  } else if (response.ok && key) {
    sessionStorage.setItem(KEY_STORE, key);
  }
  if (!response.ok) {
    const detail = body && typeof body.detail === "string" ? body.detail : `the server answered ${response.status}`;
    throw new Error(detail);
  }
  return body;
}

function showError(message) {
  $("error").textContent = message;
  $("error").hidden = !message;
}

// Python offsets count code points; JavaScript strings count UTF-16 units, so slice code points.
function highlighted(text, spans) {
  const chars = Array.from(text);
  const sorted = (spans || [])
    .map(([s, e]) => [Math.max(0, Math.min(s, chars.length)), Math.max(0, Math.min(e, chars.length))])
    .filter(([s, e]) => e > s)
    .sort((a, b) => a[0] - b[0]);
  const out = el("p", { class: "passage" });
  let at = 0;
  for (const [s, e] of sorted) {
    const start = Math.max(s, at);
    if (e <= start) continue;
    if (start > at) out.append(document.createTextNode(chars.slice(at, start).join("")));
    out.append(el("mark", { text: chars.slice(start, e).join("") }));
    at = e;
  }
  if (at < chars.length) out.append(document.createTextNode(chars.slice(at).join("")));
  return out;
}

function answerWithMarkers(answer, known) {
  const out = document.createDocumentFragment();
  const parts = answer.split(/\[(\d+)\]/);
  parts.forEach((part, i) => {
    if (i % 2 === 0) { if (part) out.append(document.createTextNode(part)); return; }
    if (!known.has(Number(part))) { out.append(document.createTextNode(`[${part}]`)); return; }
    out.append(el("a", { class: "marker", href: `#cite-${part}`, text: `[${part}]` }));
  });
  return out;
}

function when(iso) {
  const date = iso ? new Date(iso) : null;
  return date && !isNaN(date) ? `${date.toISOString().slice(0, 16).replace("T", " ")} UTC` : "?";
}

function fmt(value, digits) {
  return value === null || value === undefined ? "—" : Number(value).toFixed(digits);
}

function scores(c) {
  const rank = (r) => (r === null || r === undefined ? "not retrieved" : `#${r}`);
  const table = el("table", { class: "scores" });
  table.append(
    el("tr", {}, el("th", { text: "fused" }), el("th", { text: "keyword (BM25)" }), el("th", { text: "vector" })),
    el("tr", {},
      el("td", { class: "fused", text: fmt(c.score, 3) }),
      el("td", { class: "keyword", text: `${rank(c.keyword_rank)} · ${fmt(c.keyword_score, 2)}` }),
      el("td", { class: "vector", text: `${rank(c.vector_rank)} · ${fmt(c.vector_score, 3)}` })),
  );
  return table;
}

function citation(c) {
  const item = el("li", { id: `cite-${c.n}`, class: c.cited ? "cited" : "uncited", value: String(c.n) });
  const title = el("div", { class: "title" }, el("span", { class: "n", text: `[${c.n}]` }), " ");
  if (c.url && /^https?:\/\//i.test(c.url)) {
    title.append(el("a", { href: c.url, rel: "noopener noreferrer", target: "_blank", text: c.title }));
  } else {
    title.append(el("span", { text: c.title }));
  }
  if (!c.cited) title.append(el("span", { class: "badge", text: "retrieved, not quoted" }));
  const meta = [c.source, c.published || c.date_text, c.article_id].filter(Boolean).join(" · ");
  item.append(title, el("div", { class: "meta muted", text: meta }), highlighted(c.text, c.highlights), scores(c));
  return item;
}

let lastQuestion = null;

function notes(result) {
  const out = [];
  if (result.corrections && result.corrections.length) {
    out.push(`Showing results for ${result.corrections.map((c) => c.used).join(", ")} ` +
             `(you typed ${result.corrections.map((c) => c.typed).join(", ")})`);
  }
  if (result.dates && result.dates.length) out.push(`Date understood: ${result.dates.join(", ")}`);
  if (result.resolved_question) out.push(`Understood as: ${result.resolved_question}`);
  return out.join(" · ");
}

function render(result) {
  const known = new Set(result.citations.map((c) => c.n));
  $("notes").textContent = notes(result);
  $("notes").hidden = !$("notes").textContent;
  $("answer").replaceChildren(answerWithMarkers(result.answer, known));
  $("answer").className = result.found ? "found" : "not-found";
  $("confidence").textContent = result.found
    ? `confidence ${Math.round(result.confidence * 100)}% · ${result.citations.filter((c) => c.cited).length} passage(s) quoted`
    : "No passage answers this question well enough to quote.";
  $("sources-title").textContent = result.citations.length ? "Sources" : "";
  $("citations").replaceChildren(...result.citations.map(citation));
  $("result").hidden = false;
}

async function ask(event) {
  event.preventDefault();
  const question = $("question").value;
  const k = parseInt($("k").value, 10);
  const body = Number.isInteger(k) ? { question, k } : { question };
  if ($("followup").checked && lastQuestion) body.previous = lastQuestion;
  showError("");
  $("ask").disabled = true;
  $("ask").textContent = "Asking…";
  try {
    render(await api("/ask", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    }));
    lastQuestion = question;
    $("followup-row").hidden = false;
  } catch (err) {
    showError(err.message);
  } finally {
    $("ask").disabled = false;
    $("ask").textContent = "Ask";
  }
}

async function status() {
  try {
    const h = await api("/health");
    $("status").textContent = h.ready
      ? `${h.articles} articles · ${h.passages} passages · index built ${when(h.built_at)} · model ${h.model || "?"}`
      : `Not ready: ${h.detail || "no index"}`;
  } catch (err) {
    $("status").textContent = `Index status unavailable: ${err.message}`;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("ask-form").addEventListener("submit", ask);
  $("api-key").addEventListener("change", status);
  $("question").focus();
  status();
});
