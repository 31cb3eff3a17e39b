"use strict";
// The statistics page: the viewer logs in with their bearer token (kept in this tab's
// sessionStorage only), the page asks the hub's JSON endpoints with it
// (Authorization: Bearer), and draws what GetStatistics answers. The hub decides what
// the viewer may see; the page only offers what /api/viewer says they may choose.
(() => {
  const KEY = "sagshub.token";
  const $ = id => document.getElementById(id);
  const state = {token: sessionStorage.getItem(KEY), viewer: null};
  const FIELDS = ["applications_received", "decided", "backlog_total", "share_within_deadline",
                  "processing_days_median", "processing_days_p90", "share_automatic"];
  const SHARES = new Set(["share_within_deadline", "share_automatic"]);

  const num = v => Number(v || 0);  // (int64 fields come as strings in proto JSON)
  const pct = v => (num(v) * 100).toFixed(1).replace(".", ",") + " %";
  // Shares and processing times are over the decided cases: with none decided there are none ("–").
  const OVER_DECIDED = new Set([...SHARES, "processing_days_median", "processing_days_p90"]);
  const none = (field, m) => OVER_DECIDED.has(field) && num(m.decided) === 0;
  const show = (field, v, m) => m && none(field, m) ? "–" : SHARES.has(field) ? pct(v) : String(num(v));

  async function api(path) {
    const r = await fetch(path, {headers: {Authorization: "Bearer " + state.token}, cache: "no-store"});
    const body = await r.json().catch(() => ({}));
    if (!r.ok) {
      const err = new Error(body.message || r.statusText);
      err.status = r.status;
      err.body = body;
      throw err;
    }
    return body;
  }

  function say(text, error) {
    const s = $("status");
    s.textContent = text;
    s.classList.toggle("error", !!error);
  }

  function describe(err) {
    const b = err.body || {};
    const fields = (b.field_violations || []).map(v => `${v.field} ${v.description}`).join("; ");
    return `${b.code || err.status || ""} ${err.message}${fields ? ": " + fields : ""}`.trim();
  }

  function option(select, value, text) {
    const o = document.createElement("option");
    o.value = value;
    o.textContent = text;
    select.appendChild(o);
  }

  function monthOf(d) {
    return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}`;
  }

  async function login(token) {
    state.token = token;
    try {
      state.viewer = await api("/api/viewer");
    } catch (err) {
      sessionStorage.removeItem(KEY);
      state.token = null;
      $("login").hidden = false;
      $("view").hidden = true;
      $("who").hidden = true;
      const p = document.querySelector("#login p.error") || document.createElement("p");
      p.className = "error";
      p.dataset.testid = "login-error";
      p.textContent = err.status === 401 ? "Ukendt adgangstoken." : describe(err);
      $("login").appendChild(p);
      return;
    }
    sessionStorage.setItem(KEY, token);
    const v = state.viewer;
    $("viewer").textContent = `${v.client_id} (${v.role})`;
    $("who").hidden = false;
    $("login").hidden = true;
    $("view").hidden = false;
    const params = new URLSearchParams(location.search);
    const muni = $("municipality");
    muni.replaceChildren();
    option(muni, "", "Hele landet");
    for (const m of v.municipalities) option(muni, m.code, `${m.name} (${m.code})`);
    const benefit = $("benefit");
    benefit.replaceChildren();
    option(benefit, "", "Alle ydelser");
    for (const b of v.benefits) option(benefit, b.code, b.name);
    const now = new Date();
    const from = new Date(now.getFullYear(), now.getMonth() - 11, 1);
    muni.value = params.get("municipality_code") ??
                 (v.municipalities.length === 1 ? v.municipalities[0].code : "");
    benefit.value = params.get("benefit_code") ?? "";
    $("from").value = params.get("from_month") || monthOf(from);
    $("to").value = params.get("to_month") || monthOf(now);
    await query();
  }

  function row(tbody, label, m, testid) {
    const tr = document.createElement("tr");
    tr.dataset.testid = testid;
    const th = document.createElement("th");
    th.scope = "row";
    th.textContent = label;
    tr.appendChild(th);
    for (const f of FIELDS) {
      const td = document.createElement("td");
      td.dataset.field = f;
      td.dataset.value = String(SHARES.has(f) ? num(m[f]) : num(m[f]));
      td.textContent = show(f, m[f], m);
      tr.appendChild(td);
    }
    tbody.appendChild(tr);
  }

  function render(answer, perBenefit) {
    const v = state.viewer;
    const muni = v.municipalities.find(m => m.code === answer.municipality_code);
    const benefit = v.benefits.find(b => b.code === answer.benefit_code);
    $("title").textContent = `${answer.municipality_code ? (muni ? muni.name : answer.municipality_code) : "Hele landet"}` +
                             ` · ${answer.benefit_code ? (benefit ? benefit.name : answer.benefit_code) : "alle ydelser"}`;
    $("title").dataset.municipality = answer.municipality_code;
    $("title").dataset.benefit = answer.benefit_code;
    $("asof").textContent = answer.as_of_date;
    const total = answer.total || {};
    for (const f of ["backlog_total", "decided", "share_within_deadline", "processing_days_median",
                     "processing_days_p90", "share_automatic"]) {
      const dd = document.querySelector(`[data-testid="total-${f}"]`);
      dd.textContent = show(f, total[f], total);
      dd.dataset.value = String(num(total[f]));
    }
    const months = answer.months || [];
    const labels = months.map(m => m.month);
    const tbody = document.querySelector("#months tbody");
    tbody.replaceChildren();
    for (const m of months) row(tbody, m.month, m, `month-${m.month}`);
    const btbody = document.querySelector("#benefits tbody");
    btbody.replaceChildren();
    for (const [b, t] of perBenefit) row(btbody, b.name, t, `benefit-${b.code}`);

    const series = f => months.map(m => none(f, m) ? null : num(m[f]));  // (null: a gap in the line)
    Charts.draw($("chart-backlog"), labels, [{name: "Åbne sager", values: series("backlog_total"), color: "#1f5fa8",
                                               kind: "bar"}], {label: "Sagspukkel"});
    Charts.draw($("chart-deadline"), labels, [{name: "Inden for fristen", values: series("share_within_deadline")
                                                .map(x => x === null ? null : x * 100), color: "#2a7d4f"}],
                {label: "Afgjort inden for fristen", max: 100, format: x => `${Math.round(x)} %`});
    Charts.draw($("chart-days"), labels, [{name: "Median", values: series("processing_days_median"), color: "#1f5fa8"},
                                            {name: "90 %-fraktil", values: series("processing_days_p90"),
                                             color: "#c2571a"}], {label: "Sagsbehandlingstid i dage"});
    Charts.draw($("chart-automatic"), labels, [{name: "Automatisk", values: series("share_automatic")
                                                 .map(x => x === null ? null : x * 100), color: "#6b4fa8"}],
                {label: "Afgjort automatisk", max: 100, format: x => `${Math.round(x)} %`});
    $("result").hidden = false;
  }

  async function query() {
    const params = new URLSearchParams();
    for (const [name, id] of [["municipality_code", "municipality"], ["benefit_code", "benefit"],
                              ["from_month", "from"], ["to_month", "to"]]) {
      if ($(id).value) params.set(name, $(id).value);
    }
    say("Henter …");
    $("result").hidden = true;
    try {
      const answer = await api("/api/statistics?" + params);
      const perBenefit = await Promise.all(state.viewer.benefits.map(async b => {
        const p = new URLSearchParams(params);
        p.set("benefit_code", b.code);
        const one = await api("/api/statistics?" + p);
        return [b, one.total || {}];
      }));
      render(answer, perBenefit);
      say("");
      document.body.dataset.loaded = params.toString();
    } catch (err) {
      if (err.status === 401) {
        sessionStorage.removeItem(KEY);
        location.reload();
        return;
      }
      say(describe(err), true);
      document.body.dataset.loaded = "error";
    }
  }

  $("login-form").addEventListener("submit", e => {
    e.preventDefault();
    login($("token").value.trim());
    $("token").value = "";
  });
  $("query").addEventListener("submit", e => {
    e.preventDefault();
    query();
  });
  $("logout").addEventListener("click", () => {
    sessionStorage.removeItem(KEY);
    location.reload();
  });
  if (state.token) login(state.token);
})();
