// memhead console: plain pages over the public JSON API (/api/v1, /readyz, /metrics).
// Every piece of stored data reaches the page as a text node (el() below), never as HTML.
"use strict";

(() => {
  const API = "/api/v1";
  const KEY = "memhead.apiKey"; // sessionStorage: this browser tab only
  const PAGE_SIZES = ["25", "50", "100"];
  const HISTORY_PAGE = 200;

  // Sections in the top bar. A section is one entry here and one route below: the
  // "Memory items" section (long-term memory, once the API has it) slots in the same way.
  const TABS = [
    ["sessions", "Sessions"],
    ["search", "Search"],
    ["server", "Server"],
  ];

  const ROUTES = [
    [/^sessions\/(.+)$/, (m, q) => sessionPage(decodeURIComponent(m[1]), q)],
    [/^sessions\/?$/, (m, q) => sessionsPage(q)],
    [/^search$/, (m, q) => searchPage(q)],
    [/^server$/, () => serverPage()],
  ];

  // -- DOM --------------------------------------------------------------------------------

  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(props || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "class") node.className = value;
      else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function link(hash, ...children) {
    return el("a", { href: hash }, ...children);
  }

  function hashOf(path, params) {
    const query = new URLSearchParams();
    for (const [name, value] of Object.entries(params || {})) {
      if (value !== null && value !== undefined && value !== "") query.set(name, value);
    }
    const text = query.toString();
    return "#/" + path + (text ? "?" + text : "");
  }

  function sessionHash(id, params) {
    return hashOf("sessions/" + encodeURIComponent(id), params);
  }

  function when(iso) {
    if (!iso) return el("span", { class: "muted" }, "never");
    const date = new Date(iso);
    return el("time", { datetime: iso, title: iso }, date.toLocaleString());
  }

  function facts(rows) {
    return el(
      "dl",
      { class: "facts" },
      rows.map(([term, value, name]) => [
        el("dt", {}, term),
        el("dd", { "data-fact": name || null }, value === null || value === undefined ? "—" : value),
      ]),
    );
  }

  function json(value) {
    if (value === null || value === undefined) return el("span", { class: "muted" }, "none");
    return el("pre", { class: "json" }, JSON.stringify(value, null, 2));
  }

  function notice(kind, ...children) {
    return el("p", { class: kind, role: kind === "error" ? "alert" : null }, ...children);
  }

  function flash(text) {
    const box = document.getElementById("flash");
    box.textContent = text;
    box.hidden = false;
    setTimeout(() => {
      box.hidden = true;
    }, 5000);
  }

  // -- the API ----------------------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  async function api(path, options) {
    const opts = options || {};
    const headers = { Accept: "application/json" };
    const key = sessionStorage.getItem(KEY);
    if (key) headers.Authorization = "Bearer " + key;
    let body;
    if (opts.body !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(opts.body);
    }
    const response = await fetch(path, {
      method: opts.method || "GET",
      headers,
      body,
      cache: "no-store",
      credentials: "omit",
    });
    const type = response.headers.get("content-type") || "";
    const payload = type.includes("json") ? await response.json() : await response.text();
    if (!response.ok) {
      const message = payload && payload.error ? payload.error : response.statusText;
      throw new ApiError(response.status, message);
    }
    return payload;
  }

  function query(params) {
    const q = new URLSearchParams();
    for (const [name, value] of Object.entries(params)) {
      if (value !== null && value !== undefined) q.set(name, value);
    }
    const text = q.toString();
    return text ? "?" + text : "";
  }

  function sessionPath(id) {
    return API + "/sessions/" + encodeURIComponent(id);
  }

  // -- sessions list ----------------------------------------------------------------------

  async function sessionsPage(q) {
    const filters = {
      user_id: q.get("user_id") || "",
      namespace: q.get("namespace") || "",
      limit: PAGE_SIZES.includes(q.get("limit")) ? q.get("limit") : "50",
    };
    const cursor = q.get("cursor");
    const page = await api(
      API +
        "/sessions" +
        query({
          user_id: filters.user_id || null,
          namespace: filters.namespace || null,
          limit: filters.limit,
          cursor,
        }),
    );
    const pager = el(
      "p",
      { class: "pager" },
      cursor ? link(hashOf("sessions", filters), "« First page") : null,
      page.next_cursor
        ? link(hashOf("sessions", { ...filters, cursor: page.next_cursor }), "Next page »")
        : null,
    );
    return el(
      "section",
      {},
      el("h1", {}, "Sessions"),
      sessionFilters(filters),
      page.sessions.length ? sessionTable(page.sessions) : notice("muted", "No sessions."),
      pager,
    );
  }

  function sessionFilters(filters) {
    const field = (label, name, value) =>
      el("label", {}, label, el("input", { name, value, type: "search", autocomplete: "off" }));
    const size = el(
      "select",
      { name: "limit" },
      PAGE_SIZES.map((n) => el("option", { value: n, selected: n === filters.limit }, n)),
    );
    return el(
      "form",
      {
        class: "filters",
        id: "session-filters",
        onsubmit: (event) => {
          event.preventDefault();
          const data = new FormData(event.target);
          location.hash = hashOf("sessions", Object.fromEntries(data.entries()));
        },
      },
      field("User id", "user_id", filters.user_id),
      field("Namespace", "namespace", filters.namespace),
      el("label", {}, "Per page", size),
      el("button", { type: "submit" }, "Filter"),
    );
  }

  function summaryState(s) {
    if (s.last_error) return el("span", { class: "badge bad", title: s.last_error }, "failing");
    if (s.upto_seq > 0) return `${s.upto_seq} of ${s.message_count} summarized`;
    return el("span", { class: "muted" }, "none");
  }

  function sessionTable(sessions) {
    const head = ["Session", "User", "Namespace", "Messages", "Summary", "Last activity"];
    const cell = (label, ...content) => el("td", { "data-label": label }, ...content);
    return el(
      "table",
      { class: "list", id: "sessions" },
      el("thead", {}, el("tr", {}, head.map((h) => el("th", { scope: "col" }, h)))),
      el(
        "tbody",
        {},
        sessions.map((s) =>
          el(
            "tr",
            { "data-session": s.id },
            cell("Session", link(sessionHash(s.id), s.id)),
            cell("User", s.user_id || el("span", { class: "muted" }, "—")),
            cell("Namespace", s.namespace || el("span", { class: "muted" }, "default")),
            cell("Messages", String(s.message_count)),
            cell("Summary", summaryState(s)),
            cell("Last activity", when(s.updated_at)),
          ),
        ),
      ),
    );
  }

  // -- one session ------------------------------------------------------------------------

  async function sessionPage(id, q) {
    const base = sessionPath(id);
    let session;
    try {
      session = await api(base);
    } catch (error) {
      if (error.status !== 404) throw error;
      return el(
        "section",
        {},
        el("h1", {}, "No such session"),
        notice("muted", "There is no session ", el("code", {}, id), " in this tenant."),
        link("#/sessions", "« All sessions"),
      );
    }
    const [summary, memory] = await Promise.all([api(base + "/summary"), api(base + "/memory")]);
    const marks = {
      upto: memory.upto_seq,
      window: new Set(memory.messages.map((m) => m.seq)),
    };
    const focus = Number(q.get("seq")) || null;
    const history = el("div", { id: "history" });
    const view = el(
      "section",
      { class: "session" },
      el("p", { class: "crumbs" }, link("#/sessions", "« Sessions")),
      el("h1", {}, "Session ", el("code", { id: "session-id" }, id)),
      el(
        "div",
        { class: "actions" },
        link(hashOf("search", { scope: "session", id }), "Search this session"),
        el("button", { class: "danger", id: "delete", onclick: () => remove(id, session) }, "Delete…"),
      ),
      el(
        "div",
        { class: "columns" },
        el(
          "div",
          {},
          facts([
            ["User", session.user_id],
            ["Namespace", session.namespace || "default"],
            ["Messages", String(session.message_count), "messages"],
            ["Created", when(session.created_at)],
            ["Last activity", when(session.updated_at)],
            ["Metadata", json(session.metadata)],
          ]),
          summarySection(summary),
        ),
        el("div", {}, el("h2", {}, "History"), legend(), history),
      ),
    );
    await loadHistory(base, history, marks, null, focus);
    return view;
  }

  function summarySection(s) {
    const text = s.summary
      ? el("blockquote", { id: "summary", class: "summary" }, s.summary)
      : notice("muted", "No summary yet.");
    const covers = s.upto_seq > 0 ? `messages 1–${s.upto_seq}` : "no messages";
    return el(
      "div",
      { class: "card" },
      el("h2", {}, "Summary"),
      text,
      facts([
        ["Covers", covers, "upto"],
        ["Not yet summarized", String(s.unsummarized), "unsummarized"],
        ["Tokens spent", String(s.tokens), "tokens"],
        ["Last compaction", when(s.last_compacted_at)],
        ["Last error", s.last_error ? el("span", { class: "bad" }, s.last_error) : null, "error"],
        ["Failed attempts", String(s.attempts)],
        ["Next retry", s.next_attempt_at ? when(s.next_attempt_at) : null],
      ]),
    );
  }

  const STATES = {
    window: ["in window", "sent to the model verbatim"],
    summarized: ["summarized", "folded into the summary (seq ≤ upto_seq)"],
    waiting: ["awaiting summary", "older than the window, not summarized yet"],
  };

  function stateOf(seq, marks) {
    if (seq <= marks.upto) return "summarized";
    return marks.window.has(seq) ? "window" : "waiting";
  }

  function legend() {
    return el(
      "ul",
      { class: "legend" },
      Object.entries(STATES).map(([state, [label, help]]) =>
        el("li", {}, el("span", { class: "badge " + state }, label), " ", help),
      ),
    );
  }

  async function loadHistory(base, container, marks, before, focus) {
    const page = await api(base + "/messages" + query({ limit: HISTORY_PAGE, before_seq: before }));
    const list = container.querySelector("ol") || container.appendChild(el("ol", { class: "messages" }));
    for (const m of page.messages) list.append(messageItem(m, stateOf(m.seq, marks), focus));
    container.querySelector("button.more")?.remove();
    const next = page.next_before_seq;
    if (next && focus && focus < next) return loadHistory(base, container, marks, next, focus);
    if (next) {
      const more = el("button", { class: "more" }, "Older messages");
      more.addEventListener("click", () =>
        loadHistory(base, container, marks, next, null).catch(showError),
      );
      container.append(more);
    }
    if (!list.children.length) list.replaceWith(notice("muted", "No messages."));
    return undefined;
  }

  function messageItem(m, state, focus) {
    const [label, help] = STATES[state];
    return el(
      "li",
      {
        class: "message " + state + (m.seq === focus ? " focus" : ""),
        id: "m-" + m.seq,
        "data-seq": m.seq,
        "data-state": state,
      },
      el(
        "div",
        { class: "meta" },
        el("span", { class: "seq" }, "#" + m.seq),
        el("span", { class: "role" }, m.role),
        el("span", { class: "badge " + state, title: help }, label),
        when(m.created_at),
        m.id ? el("span", { class: "muted" }, "id ", el("code", {}, m.id)) : null,
      ),
      el("div", { class: "content" }, m.content),
      m.metadata ? el("details", {}, el("summary", {}, "metadata"), json(m.metadata)) : null,
    );
  }

  async function remove(id, session) {
    const what = `Delete session "${id}" with its ${session.message_count} messages and summary?`;
    if (!confirm(what + " This cannot be undone.")) return;
    try {
      await api(sessionPath(id), { method: "DELETE" });
      flash(`Deleted session "${id}".`);
      location.hash = "#/sessions";
    } catch (error) {
      showError(error);
    }
  }

  // -- search -----------------------------------------------------------------------------

  const SCOPES = [
    ["tenant", "All sessions"],
    ["user", "One user"],
    ["session", "One session"],
  ];

  async function searchPage(q) {
    const form = {
      q: q.get("q") || "",
      mode: ["hybrid", "keyword", "vector"].includes(q.get("mode")) ? q.get("mode") : "hybrid",
      scope: SCOPES.some(([s]) => s === q.get("scope")) ? q.get("scope") : "tenant",
      id: q.get("id") || "",
      limit: q.get("limit") || "10",
    };
    const view = el("section", {}, el("h1", {}, "Search"), searchForm(form));
    if (form.q) view.append(await searchResults(form));
    return view;
  }

  function searchForm(f) {
    const scope = el(
      "select",
      { name: "scope" },
      SCOPES.map(([value, label]) => el("option", { value, selected: value === f.scope }, label)),
    );
    const mode = el(
      "select",
      { name: "mode" },
      ["hybrid", "keyword", "vector"].map((m) => el("option", { value: m, selected: m === f.mode }, m)),
    );
    return el(
      "form",
      {
        class: "filters",
        id: "search-form",
        onsubmit: (event) => {
          event.preventDefault();
          location.hash = hashOf("search", Object.fromEntries(new FormData(event.target).entries()));
        },
      },
      el(
        "label",
        { class: "wide" },
        "Query",
        el("input", { name: "q", type: "search", value: f.q, required: true, autocomplete: "off" }),
      ),
      el("label", {}, "Mode", mode),
      el("label", {}, "Scope", scope),
      el(
        "label",
        {},
        "User or session id",
        el("input", { name: "id", value: f.id, autocomplete: "off", placeholder: "for one user or session" }),
      ),
      el("label", {}, "Hits", el("input", { name: "limit", type: "number", min: 1, max: 100, value: f.limit })),
      el("button", { type: "submit" }, "Search"),
    );
  }

  async function searchResults(f) {
    const body = { query: f.q, mode: f.mode, limit: Number(f.limit) || 10 };
    if (f.scope !== "tenant") {
      if (!f.id) return notice("error", `Searching one ${f.scope} needs its id.`);
      body[f.scope === "user" ? "user_id" : "session_id"] = f.id;
    }
    const found = await api(API + "/search", { method: "POST", body });
    const used =
      found.mode === f.mode
        ? null
        : notice("muted", `Searched in ${found.mode} mode: this server has no embedder.`);
    if (!found.hits.length) return el("div", {}, used, notice("muted", "No hits."));
    return el("div", {}, used, el("ol", { class: "hits", id: "hits" }, found.hits.map(hitItem)));
  }

  function hitItem(h) {
    return el(
      "li",
      { class: "hit", "data-session": h.session_id, "data-seq": h.seq },
      el(
        "div",
        { class: "meta" },
        el("span", { class: "score", title: "Higher is better; comparable within one search" }, h.score.toFixed(4)),
        h.retrievers.map((r) => el("span", { class: "badge retriever" }, r)),
        link(sessionHash(h.session_id, { seq: h.seq }), h.session_id, " #", String(h.seq)),
        el("span", { class: "role" }, h.role),
        when(h.created_at),
      ),
      el("div", { class: "content" }, h.content),
    );
  }

  // -- server -----------------------------------------------------------------------------

  async function serverPage() {
    const [ready, metrics] = await Promise.all([api("/readyz"), api("/metrics")]);
    const series = parseMetrics(metrics);
    const pending = (kind) => series.get(`memhead_jobs_pending{kind="${kind}"}`);
    const embedding = ready.embedding || null;
    return el(
      "section",
      {},
      el("h1", {}, "Server"),
      facts([
        ["Status", ready.status, "status"],
        ["Store", ready.store, "store"],
        ["LLM", ready.llm_model || "none: summaries are off", "llm"],
        ["Embedder", ready.embedder || "none: keyword retrieval only", "embedder"],
        ["Window size", String(ready.window_size), "window"],
        ["Compaction backlog", count(ready.compaction_backlog, "sessions"), "compaction"],
        ["Embedding backlog", count(ready.embedding_backlog, "messages"), "embedding"],
      ]),
      el("h2", {}, "Background work of this process"),
      jobsTable(series, pending),
      embedding
        ? facts([
            ["Messages embedded", String(embedding.embedded)],
            ["Embedding error", embedding.last_error],
            ["Next embedding retry", embedding.next_attempt_at ? when(new Date(embedding.next_attempt_at).toISOString()) : null],
          ])
        : null,
      notice("muted", "From ", link("/readyz", "/readyz"), " and ", link("/metrics", "/metrics"), "."),
    );
  }

  function count(value, unit) {
    if (value === undefined || value === null) return null;
    return `${value >= 1000 ? "1000 or more" : value} ${unit}`;
  }

  function parseMetrics(text) {
    // Prometheus text format: "name{labels} value" per line; comments start with "#".
    const series = new Map();
    for (const line of text.split("\n")) {
      if (!line || line.startsWith("#")) continue;
      const cut = line.lastIndexOf(" ");
      series.set(line.slice(0, cut), Number(line.slice(cut + 1)));
    }
    return series;
  }

  function jobsTable(series, pending) {
    const rows = [];
    for (const kind of ["compaction", "embedding"]) {
      const results = [];
      for (const [name, value] of series) {
        const m = name.match(/^memhead_jobs_total\{kind="([^"]*)",result="([^"]*)"\}$/);
        if (m && m[1] === kind) results.push(`${m[2]}: ${value}`);
      }
      const due = pending(kind);
      rows.push(
        el(
          "tr",
          {},
          el("td", { "data-label": "Kind" }, kind),
          el("td", { "data-label": "Results" }, results.join(", ") || "none yet"),
          el("td", { "data-label": "Due at last look" }, due === undefined ? "—" : String(due)),
        ),
      );
    }
    const tokens = series.get("memhead_provider_tokens_total");
    return el(
      "div",
      {},
      el(
        "table",
        { class: "list", id: "jobs" },
        el("thead", {}, el("tr", {}, ["Kind", "Results", "Due at last look"].map((h) => el("th", {}, h)))),
        el("tbody", {}, rows),
      ),
      tokens === undefined ? null : notice("muted", `Provider tokens spent on summaries: ${tokens}.`),
    );
  }

  // -- API key ----------------------------------------------------------------------------

  function keyForm(message) {
    const input = el("input", { name: "key", type: "password", required: true, autocomplete: "off" });
    return el(
      "section",
      { class: "card narrow" },
      el("h1", {}, "API key"),
      notice("muted", message),
      el(
        "form",
        {
          id: "key-form",
          onsubmit: (event) => {
            event.preventDefault();
            sessionStorage.setItem(KEY, input.value.trim());
            render();
          },
        },
        el("label", {}, "Key (kept in this browser tab only)", input),
        el("button", { type: "submit" }, "Use key"),
      ),
    );
  }

  function account() {
    const box = document.getElementById("account");
    if (!sessionStorage.getItem(KEY)) {
      box.replaceChildren();
      return;
    }
    const forget = () => {
      sessionStorage.removeItem(KEY);
      render();
    };
    box.replaceChildren(el("button", { class: "quiet", id: "forget-key", onclick: forget }, "Forget key"));
  }

  // -- routing ----------------------------------------------------------------------------

  let generation = 0;

  function showError(error) {
    document.getElementById("main").replaceChildren(errorView(error));
  }

  function errorView(error) {
    if (error instanceof ApiError && error.status === 401) {
      const had = sessionStorage.getItem(KEY);
      sessionStorage.removeItem(KEY);
      account();
      const why = had ? `The key was refused: ${error.message}.` : "This server requires an API key.";
      return keyForm(why);
    }
    const where = error instanceof ApiError ? `The server answered ${error.status}: ` : "";
    return el("section", {}, el("h1", {}, "Something went wrong"), notice("error", where + error.message));
  }

  async function render() {
    const mine = ++generation;
    const target = location.hash;
    const hash = target.replace(/^#\/?/, "") || "sessions";
    const cut = hash.indexOf("?");
    const path = cut < 0 ? hash : hash.slice(0, cut);
    const params = new URLSearchParams(cut < 0 ? "" : hash.slice(cut + 1));
    const section = path.split("/")[0];
    for (const tab of document.querySelectorAll("#tabs a")) {
      tab.toggleAttribute("aria-current", tab.dataset.tab === section);
    }
    account();
    const main = document.getElementById("main");
    main.setAttribute("aria-busy", "true");
    let view;
    try {
      const route = ROUTES.find(([pattern]) => pattern.test(path));
      view = route
        ? await route[1](path.match(route[0]), params)
        : el("section", {}, el("h1", {}, "Not found"), link("#/sessions", "« Sessions"));
    } catch (error) {
      view = errorView(error);
    }
    if (mine !== generation) return; // a newer navigation won
    main.replaceChildren(view);
    main.dataset.rendered = target; // what is on screen, for scripts that drive the console
    main.setAttribute("aria-busy", "false");
    const focused = main.querySelector(".message.focus");
    if (focused) focused.scrollIntoView({ block: "center" });
  }

  function start() {
    document
      .getElementById("tabs")
      .replaceChildren(...TABS.map(([name, label]) => el("a", { href: "#/" + name, "data-tab": name }, label)));
    window.addEventListener("hashchange", render);
    render();
  }

  start();
})();
