// leased status page: polls data.json every second and redraws the parts
// that change. No framework, no external resources (CSP default-src 'self').
"use strict";
(function () {
  const prefix = document.body.dataset.prefix;
  const $ = (id) => document.getElementById(id);

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") e.className = v;
      else if (k === "width") e.style.width = v;
      else e.setAttribute(k, v);
    }
    for (const c of children) e.append(c instanceof Node ? c : String(c));
    return e;
  }
  const pct = (f) => f.toFixed(1) + " %";
  const bar = (f) => el("div", { class: "bar" }, el("div", { width: Math.min(Math.max(f, 0), 100) + "%" }));
  const hms = (t) => new Date(t).toISOString().substring(11, 19);

  function row(cls, name, range, p) {
    return el("tr", { class: cls, "data-pool": p.name || "" },
      el("td", {}, ...name), el("td", {}, range), el("td", {}, p.size),
      el("td", { class: "bound" }, p.bound), el("td", { class: "offered" }, p.offered),
      el("td", { class: "declined" }, p.declined),
      el("td", {}, bar(p.used_percent), " ", el("span", { class: "pct" }, pct(p.used_percent))));
  }

  function pools(ps) {
    const body = $("pools").tBodies[0];
    const rows = [];
    for (const p of ps) {
      rows.push(row("pool", [p.name + " ", el("small", {}, "v" + p.family + " " + p.kind)], p.subnet, p));
      for (const s of p.sections || []) {
        rows.push(row("section", ["section " + s.index], s.start + " – " + s.end, s));
      }
    }
    body.replaceChildren(...rows);
  }

  function campaigns(cs, outcomes) {
    const box = $("campaigns");
    if (cs.length === 0) { box.replaceChildren(el("p", {}, "No campaigns.")); return; }
    box.replaceChildren(...cs.map((c) => {
      const total = Math.max(c.clients, 1);
      const prog = el("div", { class: "progress" });
      const legend = el("ul", { class: "outcomes" });
      for (const o of outcomes) {
        const n = c.counts[o] || 0;
        if (n === 0) continue;
        prog.append(el("div", { class: "o-" + o, width: (100 * n / total) + "%", title: o + " " + n }));
        legend.append(el("li", { class: "o-" + o, "data-outcome": o }, o + " ", el("b", { class: "n" }, n)));
      }
      return el("div", { class: "campaign " + c.state, "data-id": c.id },
        el("div", {}, el("b", {}, "#" + c.id), " " + c.description + " — ",
          el("span", { class: "state" }, c.state), ", " + c.clients + " clients, ",
          el("span", { class: "sent" }, c.sent), " sent"),
        prog, legend);
    }));
  }

  function health(h) {
    const s = $("health");
    s.textContent = h.status;
    s.className = "health " + h.status;
    $("version").textContent = h.version;
    $("store").textContent = h.store || "";
    $("leases").textContent = h.leases;
    const rs = (h.reasons || []).map((r) =>
      el("li", { class: r.severity }, el("b", {}, r.code), " (" + r.severity + ") " + r.message));
    $("reasons").replaceChildren(...(rs.length ? rs : [el("li", { class: "ok" }, "no problems")]));
  }

  function events(evs) {
    $("events").replaceChildren(...evs.map((e) =>
      el("li", {}, el("time", {}, hms(e.time)), " ", el("span", { class: "kind" }, e.kind), " " + e.message)));
  }

  let failures = 0;
  async function poll() {
    try {
      const r = await fetch(prefix + "data.json", { credentials: "same-origin", cache: "no-store" });
      if (r.status === 401) { location.href = prefix + "login"; return; }
      if (!r.ok) throw new Error("HTTP " + r.status);
      const d = await r.json();
      health(d.health);
      pools(d.pools);
      campaigns(d.campaigns, d.outcomes);
      events(d.events);
      $("updated").textContent = hms(d.time);
      document.body.classList.remove("stale");
      failures = 0;
    } catch (e) {
      failures++;
      document.body.classList.add("stale"); // leased unreachable: the page says so
    }
    setTimeout(poll, failures ? 5000 : 1000);
  }
  poll();
})();
