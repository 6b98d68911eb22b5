// thermogate console: the People page (the roster, a person's file, import and export) and the Visitors
// page (register a visitor, their one-day QR pass, the day's list, revoke, the visitor log).
// It uses the helpers on window.thermogate (common.js's t, el, api; app.js's row, can, ...) and registers its
// two views there.
"use strict";

(function () {
  const TG = window.thermogate;
  const { api, t, el, row, can, fmtC, showErr, $ } = TG;

  function say(msgEl, text, good) { msgEl.textContent = text; msgEl.className = "msg " + (good ? "ok" : "bad"); }

  // A CSV the server sends back to a POST (an export needs a reason, so it is no plain link).
  async function download(path, body, filename) {
    const url = URL.createObjectURL(await api(path, { body, blob: true }));
    const a = el("a", { href: url, download: filename });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  }

  // ------------------------------------------------------------------ people

  let currentClass = null;

  async function loadPeople() {
    const form = $("#people-form");
    const q = new URLSearchParams();
    if (form.q.value.trim()) q.set("q", form.q.value.trim());
    if (currentClass !== null) q.set("class", currentClass);
    if (form.all.checked) q.set("all", "1");
    const data = await api("/api/people?" + q.toString());
    $("#people-role-note").textContent = t(can("person_file") ? "ppl_note_file" : "ppl_note_guard");
    const list = $("#class-list");
    list.textContent = "";
    const total = data.classes.reduce((n, c) => n + c.count, 0);
    [{ class: null, count: total }].concat(data.classes).forEach((c) => {
      const b = el("button", { type: "button", class: "class-btn" + (c.class === currentClass ? " active" : "") },
        `${c.class === null ? t("ppl_all_classes") : c.class || t("ppl_no_class")} (${c.count})`);
      if (c.class !== null) b.dataset.class = c.class;
      b.addEventListener("click", () => { currentClass = c.class; loadPeople().catch(showErr); });
      const li = el("li");
      li.append(b);
      list.append(li);
    });
    const exportClass = $("#export-class");
    const keep = exportClass.value;
    exportClass.length = 1;
    data.classes.forEach((c) => exportClass.append(el("option", { value: c.class }, c.class)));
    exportClass.value = keep;
    $("#people-count").textContent = t("ppl_count", { n: data.matches }) +
      (data.matches > data.people.length ? " " + t("ppl_first", { n: data.people.length }) : "");
    const tbody = $("#people-table tbody");
    tbody.textContent = "";
    data.people.forEach((p) => {
      let action = "";
      if (can("person_file")) {
        action = el("button", { type: "button", class: "file-btn" }, t("file_open_btn"));
        action.addEventListener("click", () => openFileDialog(p));
      }
      const tr = row(tbody, [p.id, p.name, t("prole_" + p.role), p.class, p.active ? t("yes") : t("no"), action]);
      tr.dataset.person = p.id;
      if (!p.active) tr.classList.add("inactive");
    });
  }

  $("#people-form").addEventListener("submit", (e) => { e.preventDefault(); loadPeople().catch(showErr); });

  // ------------------------------------------------------------------ a person's file

  let filePerson = null;

  function openFileDialog(p) {
    filePerson = p;
    $("#fd-who").textContent = `${p.name} (${p.id})`;
    $("#fd-reason-form").reset();
    $("#fd-reason-form").hidden = false;
    $("#fd-body").hidden = true;
    $("#fd-msg").textContent = "";
    $("#file-dialog").showModal();
  }

  function facts(dl, pairs) {
    dl.textContent = "";
    pairs.forEach(([k, v]) => dl.append(el("dt", null, t(k)), el("dd", null, v)));
  }

  $("#fd-reason-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const f = e.target;
    const body = { reason_kind: f.reason_kind.value, reason: f.reason.value.trim() };
    if (body.reason_kind === "other" && !body.reason) { say($("#fd-msg"), t("err_reason_required"), false); return; }
    try {
      const d = await api(`/api/people/${encodeURIComponent(filePerson.id)}/file`, { body });
      const p = d.person;
      facts($("#fd-identity"), [["ppl_id", p.id], ["ppl_name", p.name], ["ppl_role", t("prole_" + p.role)],
        ["ppl_class", p.class], ["ppl_boarder", p.boarder ? t("yes") : t("no")],
        ["ppl_phone", p.guardian_phone || "—"], ["ppl_credentials", p.credentials.join(", ") || "—"],
        ["ppl_active", p.active ? t("yes") : t("no")], ["ppl_since", p.created_local || "—"]]);
      const fill = (sel, rows, cells) => {
        const tb = $(sel + " tbody");
        tb.textContent = "";
        rows.forEach((r) => row(tb, cells(r)));
        if (!rows.length) { const tr = row(tb, [t("file_none")]); tr.firstChild.colSpan = 9; tr.className = "muted"; }
      };
      fill("#fd-screenings", d.screenings, (s) => [s.time_local, s.gate_name, t("dec_" + s.decision), fmtC(s.estimate_c)]);
      fill("#fd-alarms", d.alarms, (a) => [a.time_local, a.gate_name, t("status_" + a.status)]);
      fill("#fd-rechecks", d.rechecks, (a) => [a.time_local, fmtC(a.recheck_c), a.outcome ? t("outcome_" + a.outcome) : "",
        a.by || "", a.note || ""]);
      fill("#fd-absences", d.absences, (a) => [`${a.day} ${a.session}`, t("absence_" + a.reason),
        a.marked_by, a.note || "", a.followups.map((f) => `${f.day} ${t("followup_" + f.status)}` +
          (f.note ? ` (${f.note})` : "")).join("; ") || (a.reason === "sick_with_symptoms" ? "" : "—")]);
      f.hidden = true;
      $("#fd-body").hidden = false;
      say($("#fd-msg"), t("file_recorded", { reason: t("why_" + d.reason_kind) + (d.reason_text ? ": " + d.reason_text : "") }), true);
    } catch (err) { say($("#fd-msg"), err.message, false); }
  });

  // ------------------------------------------------------------------ roster import and export (admins)

  $("#import-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const file = $("#import-file").files[0];
    const out = $("#import-report");
    if (!file) return;
    const q = new URLSearchParams({ name: file.name });
    if ($("#import-strict").checked) q.set("strict", "1");
    out.hidden = false;
    out.className = "import-report";
    out.textContent = t("ppl_importing");
    try {
      const data = await api("/api/people/import?" + q.toString(), { raw: await file.arrayBuffer(), type: "text/csv" });
      out.textContent = data.report;
      out.classList.toggle("has-refused", data.counts.refused > 0);
      loadPeople().catch(showErr);
    } catch (err) {  // the refusal's detail (the file's problem, line by line) on lines of its own
      out.textContent = err.detail ? `${t(err.key || "err_server")}\n${err.detail}` : err.message;
      out.classList.add("has-refused");
    }
  });

  $("#export-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const f = e.target;
    try {
      await download("/api/people/export", { reason: f.reason.value.trim(), class: f.class.value }, "roster.csv");
      say($("#people-msg"), t("exported"), true);
    } catch (err) { say($("#people-msg"), err.message, false); }
  });

  TG.views.people = { need: "people", load: loadPeople };

  // ------------------------------------------------------------------ visitors

  // A local date-time for <input type=datetime-local>, in the school's time zone.
  function localInput(unix) {
    const s = new Date(unix * 1000).toLocaleString("sv-SE", { timeZone: TG.me().timezone, hour12: false });
    return s.slice(0, 16).replace(" ", "T");
  }

  function nowUnix() { return TG.me().now + (performance.now() - startedAt) / 1000; }
  const startedAt = performance.now();

  function defaultWindow() {
    const f = $("#visitor-form");
    const now = nowUnix();
    f.valid_from.value = localInput(now);
    const today = localInput(now).slice(0, 10);
    const next = new Date(today + "T00:00:00Z");
    next.setUTCDate(next.getUTCDate() + 1);
    f.valid_until.value = next.toISOString().slice(0, 10) + "T00:00"; // the end of the day: midnight
  }

  function showPass(v) {
    $("#visitor-pass").hidden = false;
    $("#vis-qr").src = `/api/visitors/${v.pass_id}/qr.svg`;
    facts($("#vis-facts"), [["vis_name", v.name], ["vis_id_last4", "…" + v.id_last4], ["vis_host", v.host],
      ["vis_purpose", v.purpose], ["vis_from", v.from_local], ["vis_until", v.until_local]]);
    $("#vis-print").href = `/visitors/${v.pass_id}/pass`;
    $("#visitor-pass").dataset.pass = v.pass_id;
  }

  $("#visitor-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const f = e.target;
    const msg = $("#visitor-msg");
    const last4 = f.id_last4.value.trim().toUpperCase();
    if (!/^[0-9]{3}[0-9X]$/.test(last4)) { say(msg, t("err_id_last4"), false); f.id_last4.focus(); return; }
    for (const k of ["name", "host", "purpose"]) {
      if (!f[k].value.trim()) { say(msg, t("vis_missing", { field: t("vis_" + k) }), false); f[k].focus(); return; }
    }
    try {
      const v = await api("/api/visitors", { body: { name: f.name.value.trim(), id_last4: last4,
        host: f.host.value.trim(), purpose: f.purpose.value.trim(), valid_from: f.valid_from.value,
        valid_until: f.valid_until.value } });
      say(msg, t("vis_issued", { name: v.name }), true);
      showPass(v);
      f.reset();
      defaultWindow();
      loadVisitors().catch(showErr);
    } catch (err) { say(msg, err.message, false); }
  });

  async function loadVisitors() {
    if (!$("#visitors-date").value) $("#visitors-date").value = localInput(nowUnix()).slice(0, 10);
    if (!$("#visitor-form").valid_from.value) defaultWindow();
    const data = await api("/api/visitors?date=" + encodeURIComponent($("#visitors-date").value));
    const tbody = $("#visitors-table tbody");
    tbody.textContent = "";
    data.visitors.forEach((v) => {
      const actions = el("span", { class: "row-actions" });
      const qr = el("button", { type: "button" }, t("vis_show_qr"));
      qr.addEventListener("click", () => showPass(v));
      const print = el("a", { class: "button", href: `/visitors/${v.pass_id}/pass`, target: "_blank", rel: "noopener" },
        t("vis_print"));
      actions.append(qr, print);
      if (!v.revoked) {
        const rv = el("button", { type: "button", class: "danger revoke-btn" }, t("vis_revoke"));
        rv.addEventListener("click", async () => {
          if (!confirm(t("vis_revoke_confirm", { name: v.name }))) return;
          try { await api(`/api/visitors/${v.pass_id}/revoke`, { body: {} }); say($("#visitors-list-msg"), t("vis_revoked_msg", { name: v.name }), true); }
          catch (err) { say($("#visitors-list-msg"), err.message, false); }
          loadVisitors().catch(showErr);
        });
        actions.append(rv);
      }
      const tr = row(tbody, [`${v.from_local.slice(11, 16)}–${v.until_local.slice(11, 16)}`, v.name, "…" + v.id_last4,
        v.host, v.purpose, v.issued_by, v.revoked ? t("vis_revoked") : t("vis_valid"), actions]);
      tr.dataset.pass = v.pass_id;
      if (v.revoked) tr.classList.add("inactive");
    });
    if (!data.visitors.length) { const tr = row(tbody, [t("vis_none")]); tr.firstChild.colSpan = 8; tr.className = "muted"; }
  }

  $("#visitors-day").addEventListener("submit", (e) => { e.preventDefault(); loadVisitors().catch(showErr); });
  $("#visitors-export").addEventListener("submit", async (e) => {
    e.preventDefault();
    const date = $("#visitors-date").value;
    try {
      await download("/api/visitors/export", { reason: e.target.reason.value.trim(), date }, `visitors-${date}.csv`);
      say($("#visitors-list-msg"), t("exported"), true);
    } catch (err) { say($("#visitors-list-msg"), err.message, false); }
  });

  TG.views.visitors = { need: "visitors", load: loadVisitors };
})();
