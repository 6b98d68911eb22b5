// thermogate: the Reports page. Today's report before the deadline (pending while alarms are open), send now /
// resend for the reporter, every report sent with its receipts and files; the class teacher's absentee lists
// and a sick absence's daily follow-up; hand-held readings; the warnings with their urgent-report drafts and
// the rules (controller.toml's read-only, the console's editable by admins and the reporters). Any earlier day's
// status on the first tab. Plain JavaScript, no build step; the API is controller/console/reports_api.py.
"use strict";

(function () {
  // t(), el(), api(), $(), $$() and fmtC() are common.js's, shared with the console and the other pages.
  const TG = window.thermogate;
  const { t, el, api, $, $$, fmtC } = TG;
  const LANG = TG.lang;
  let ME = null;
  TG.session(() => ME); // api()'s CSRF token
  let timer = null;

  const can = (p) => ME && ME.can.indexOf(p) >= 0;
  const clock = (s) => (s ? s.slice(11, 16) : "");
  const say = (node, text, bad) => { node.textContent = text; node.classList.toggle("err", !!bad); };
  const today = () => new Date(Date.now()).toLocaleString("sv-SE", { timeZone: ME.timezone }).slice(0, 10);

  function fill(tbody, rows, empty, cols) {
    tbody.replaceChildren(...rows);
    if (!rows.length) tbody.append(el("tr", { class: "muted" }, el("td", { colspan: cols }, t(empty))));
  }

  // ------------------------------------------------------------------ today and the reports sent

  function verdictBadge(code, text) {
    return el("span", { class: "badge v-" + code, dataset: { verdict: code } }, text || t("verdict_" + code));
  }

  async function loadReports() {
    // The status of the day picked (today unless an earlier day was chosen): as it stands now.
    const picked = $("#status-date").value || today();
    const [st, list] = await Promise.all([api("/api/reports/status?date=" + picked), api("/api/reports")]);
    $("#not-configured").hidden = st.configured;
    if (!st.configured) { $("#today").hidden = true; return; }
    const isToday = st.date === today();
    $("#status-date").value = st.date;
    $("#status-date").max = today();
    $("#today").dataset.date = st.date;
    $("#today-title").textContent = t(isToday ? "rpt_today" : "rpt_day_report");
    $("#status-today").hidden = isToday;
    $("#today-offday").hidden = st.school_day !== false;
    $("#today-offday").textContent = st.school_day === false ? t("rpt_not_school_day") : "";
    const v = st.verdict;
    $("#today-verdict").replaceChildren(verdictBadge(v.code, LANG === "zh" ? v.zh : v.en));
    $("#today").dataset.verdict = v.code;
    $("#today").dataset.open = st.open_alarms;
    let why = "";
    if (v.code === "pending") why = t("rpt_pending_why", { n: st.open_alarms });
    else if (st.report && st.report.status === "sent") why = t("rpt_sent_at", { at: st.report.sent_local });
    else if (st.past_deadline) why = t("rpt_past_deadline");
    say($("#today-why"), why, v.code === "pending");
    const facts = [["rpt_deadline", clock(st.deadline_local)], ["rpt_build_at", clock(st.build_local)],
      ["rpt_built", st.built ? `${t("yes")} · ${clock(st.report.built_local)}` : t("no")],
      ["rpt_status", st.report ? t("rstatus_" + st.report.status) : "—"],
      ["rpt_reporter", st.backup_reporter ? `${st.reporter} / ${t("rpt_backup")} ${st.backup_reporter}` : st.reporter],
      ["rpt_goes_under", `${st.signer} · ${st.confirmed ? t("rpt_confirmed") : t("rpt_unconfirmed")}`],
      ["rpt_recipients", st.recipients.map((r) => `${r.name} (${r.type})`).join(", ") || "—"]];
    $("#today-facts").replaceChildren(...facts.flatMap(([k, val]) => [el("dt", {}, t(k)), el("dd", {}, val)]));
    $("#send-actions").hidden = !st.can_send;
    $("#send-now").textContent = t(st.report && st.report.status !== "built" ? "rpt_resend" : "rpt_send_now");
    $("#send-now").dataset.day = st.date;
    fill($("#today-sessions tbody"), st.sessions_today.map((s) => el("tr", { dataset: { session: s.session } },
      el("td", {}, `${s.session} ${s.start}–${s.end}`), el("td", {}, String(s.expected)),
      el("td", {}, String(s.screened)), el("td", {}, String(s.manual)), el("td", {}, String(s.not_screened)),
      el("td", {}, String(s.absent_sick)), el("td", {}, String(s.fevers_raised)),
      el("td", { class: s.fevers_open ? "open" : "" }, String(s.fevers_open)))), "rpt_no_sessions", 8);

    fill($("#reports-table tbody"), list.reports.map((r) => el("tr", { dataset: { day: r.day, status: r.status } },
      el("td", {}, pickDay(r.day)), el("td", {}, verdictBadge(r.verdict)),
      el("td", {}, t("rstatus_" + r.status) + (r.late ? ` · ${t("rpt_late")}` : "")),
      el("td", {}, r.signed_by ? `${r.signed_by}${r.confirmed_by ? "" : ` (${t("rpt_backup")})`}` : "—"),
      el("td", {}, r.sent_local || "—"),
      el("td", {}, el("ul", { class: "receipts" }, r.receipts.map((x) => el("li", {
        class: x.ok ? "ok" : "bad", dataset: { recipient: x.recipient, ok: x.ok ? "1" : "0" } },
      el("b", {}, `${x.recipient} (${x.kind})`), ` ${clock(x.at_local)} · `,
      x.ok ? t("rpt_delivered") : t("rpt_failed"), ` · #${x.attempt} · ${x.sent_by}`,
      x.detail ? el("div", { class: "detail" }, x.detail) : null,
      el("div", { class: "hashes" }, Object.entries(x.files).map(([n, h]) =>
        el("span", { title: `${n} sha256 ${h}` }, `${n.split(".").pop()} ${h.slice(0, 12)}…`))))))),
      el("td", {}, el("span", { class: "files" }, r.files.map((f) =>
        el("a", { href: f.url, download: f.name, title: `sha256 ${f.sha256}`, dataset: { file: f.name } },
          f.name.split(".").pop().toUpperCase())))))), "rpt_none_sent", 7);
  }

  function pickDay(day) {
    const b = el("button", { type: "button", class: "linkish", dataset: { pick: day }, title: t("rpt_show_day") }, day);
    b.addEventListener("click", () => showDay(day));
    return b;
  }

  function showDay(day) {
    $("#status-date").value = day;
    $("#send-msg").textContent = "";
    loadReports().catch((err) => say($("#send-msg"), err.message, true));
    window.scrollTo(0, 0);
  }
  $("#status-date").addEventListener("change", () => showDay($("#status-date").value || today()));
  $("#status-today").addEventListener("click", () => showDay(today()));

  async function sendOrBuild(action) {
    const day = $("#send-now").dataset.day;
    const msg = $("#send-msg");
    if (action === "send" && $("#today").dataset.verdict === "pending" && !confirm(t("rpt_send_pending_confirm"))) return;
    say(msg, t(action === "send" ? "rpt_sending" : "rpt_building"));
    try {
      const r = await api(`/api/reports/${day}/${action}`, { body: {} });
      const failed = r.report.receipts.filter((x) => !x.ok && r.sent && r.sent.indexOf(x.id) >= 0).length;
      say(msg, action === "build" ? t("rpt_built_msg") : failed ? t("rpt_send_failed", { n: failed })
        : t("rpt_sent_msg", { who: r.report.signed_by }), failed > 0);
    } catch (err) { say(msg, err.message, true); }
    await loadReports();
  }
  $("#send-now").addEventListener("click", () => sendOrBuild("send"));
  $("#build-now").addEventListener("click", () => sendOrBuild("build"));

  // ------------------------------------------------------------------ absences

  let absenceData = null;

  function reasonSelect(current) {
    const s = el("select", { name: "reason" }, el("option", { value: "" }, t("rpt_unmarked")));
    absenceData.reasons.forEach((r) => s.append(el("option", { value: r }, t("absence_" + r))));
    s.value = current || "";
    return s;
  }

  function followupForm(absenceId, day) {
    const f = el("form", { class: "followup-form inline", dataset: { absence: absenceId } });
    const status = el("select", { name: "status" });
    absenceData.statuses.forEach((s) => status.append(el("option", { value: s }, t("followup_" + s))));
    f.append(status, el("input", { type: "text", name: "note", maxlength: "500", placeholder: t("rpt_note") }),
      el("button", { type: "submit" }, t("rpt_save")));
    f.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      try {
        await api(`/api/absences/${absenceId}/followup`, { body: { date: day, status: status.value,
          note: f.note.value.trim() } });
        say($("#abs-msg"), t("rpt_followup_saved"));
        await loadAbsences();
      } catch (err) { say($("#abs-msg"), err.message, true); }
    });
    return f;
  }

  const followText = (fs) => fs.map((f) => `${f.day} ${t("followup_" + f.status)}${f.note ? ` (${f.note})` : ""}`).join("; ");

  async function loadAbsences() {
    if (can("manual_reading")) loadManual().catch((err) => say($("#manual-msg"), err.message, true));
    if (!can("absences")) return;
    const date = $("#abs-date").value || today();
    $("#abs-date").value = date;
    const q = new URLSearchParams({ date });
    const chosen = $("#abs-session").value;
    if (chosen) q.set("session", chosen);
    if ($("#abs-class").value) q.set("class", $("#abs-class").value);
    let d;
    try { d = await api("/api/absences?" + q.toString()); } catch (err) { say($("#abs-msg"), err.message, true); return; }
    absenceData = d;
    const sel = $("#abs-session");
    if (sel.options.length !== d.sessions.length) {
      sel.replaceChildren(...d.sessions.map((s) => el("option", { value: s.name },
        `${s.name} ${s.start}–${s.end}${s.ended ? "" : " · " + t("rpt_session_running")}`)));
      const ended = d.sessions.filter((s) => s.ended);
      if (ended.length) sel.value = ended[ended.length - 1].name;
      if (sel.value && sel.value !== chosen) return loadAbsences();
    }
    const cls = $("#abs-class");
    const keep = cls.value;
    cls.replaceChildren(el("option", { value: "" }, t("rpt_all_classes")), ...d.classes.map((c) => el("option", { value: c }, c)));
    cls.value = d.classes.indexOf(keep) >= 0 ? keep : "";
    $("#abs-note").textContent = d.session && !d.session.ended ? t("rpt_session_not_over", { session: d.session.name }) :
      d.session ? t("rpt_absent_count", { n: d.absentees.length, session: d.session.name }) : "";
    fill($("#absentees tbody"), d.absentees.map((a) => {
      const reason = reasonSelect(a.reason);
      const note = el("input", { type: "text", name: "note", maxlength: "500", value: a.note || "",
        placeholder: t("rpt_note") });
      const save = el("button", { type: "button", class: "mark-btn" }, t("rpt_mark"));
      save.addEventListener("click", async () => {
        if (!reason.value) { say($("#abs-msg"), t("err_absence_reason"), true); return; }
        if (reason.value === "other" && !note.value.trim()) { say($("#abs-msg"), t("err_absence_note"), true); note.focus(); return; }
        try {
          await api("/api/absences", { body: { person_id: a.person_id, date: d.date, session: d.session.name,
            reason: reason.value, note: note.value.trim() } });
          say($("#abs-msg"), t("rpt_marked", { name: a.name, reason: t("absence_" + reason.value) }));
          await loadAbsences();
        } catch (err) { say($("#abs-msg"), err.message, true); }
      });
      const fu = a.reason === "sick_with_symptoms" ? followText(a.followups) : "";
      return el("tr", { dataset: { person: a.person_id, reason: a.reason || "" } }, el("td", {}, a.class),
        el("td", {}, `${a.name} (${a.person_id})`), el("td", {}, reason), el("td", {}, note),
        el("td", {}, save, a.marked_by ? el("div", { class: "muted small" }, `${a.marked_by} ${clock(a.marked_local)}`) : null),
        el("td", { class: "small" }, fu));
    }), d.session && d.session.ended ? "rpt_nobody_absent" : "rpt_pick_session", 6);
    fill($("#followups tbody"), d.followups.map((f) => el("tr", { dataset: { absence: f.absence_id, due: f.due ? "1" : "0" } },
      el("td", {}, f.class), el("td", {}, `${f.name} (${f.person_id})`),
      el("td", {}, `${f.day} ${f.session}${f.note ? ` · ${f.note}` : ""}`), el("td", { class: "small" }, followText(f.followups)),
      el("td", {}, f.due ? el("span", { class: "due" }, t("rpt_due")) : null, followupForm(f.absence_id, d.date)))),
    "rpt_no_followups", 5);
  }

  $("#absence-pick").addEventListener("submit", (ev) => { ev.preventDefault(); loadAbsences(); });
  $("#abs-session").addEventListener("change", () => loadAbsences());

  // ------------------------------------------------------------------ hand-held readings

  let gatesLoaded = false;

  async function loadManual() {
    if (!gatesLoaded) {
      const g = await api("/api/gates");
      g.gates.forEach((x) => $("#manual-gate").append(el("option", { value: x.gate }, x.name || x.gate)));
      gatesLoaded = true;
    }
    const d = await api("/api/manual_readings?date=" + today());
    fill($("#manual-list tbody"), d.readings.map((m) => el("tr", { dataset: { reading: m.id, person: m.person_id } },
      el("td", {}, clock(m.time_local)), el("td", {}, m.name ? `${m.name} (${m.person_id})` : m.person_id),
      el("td", {}, m.class || ""), el("td", { class: m.fever ? "open" : "" }, fmtC(m.value_c)), el("td", {}, m.by),
      el("td", {}, m.gate || "—"), el("td", {}, el("span", { class: "tag-manual" }, t("rpt_manual_tag"))))),
    "rpt_no_readings", 7);
  }

  let searchTimer = null;
  $("#manual-q").addEventListener("input", () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(async () => {
      const q = $("#manual-q").value.trim();
      const ul = $("#manual-matches");
      if (!q) { ul.replaceChildren(); return; }
      try {
        const d = await api("/api/people?q=" + encodeURIComponent(q));
        ul.replaceChildren(...d.people.slice(0, 8).map((p) => {
          const b = el("button", { type: "button", dataset: { person: p.id } }, `${p.name} · ${p.class} · ${p.id}`);
          b.addEventListener("click", () => {
            $("#manual-person").value = p.id;
            $("#manual-chosen").textContent = t("rpt_chosen", { name: p.name, id: p.id, cls: p.class });
            ul.replaceChildren();
            $("#manual-value").focus();
          });
          return el("li", {}, b);
        }));
      } catch (err) { say($("#manual-msg"), err.message, true); }
    }, 200);
  });

  $("#manual-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = ev.target;
    const msg = $("#manual-msg");
    if (!f.person_id.value) { say(msg, t("rpt_pick_person"), true); $("#manual-q").focus(); return; }
    const v = Number(f.value_c.value);
    if (!f.value_c.value || !(v >= 30 && v <= 45)) { say(msg, t("rpt_value_range"), true); f.value_c.focus(); return; }
    try {
      const m = await api("/api/manual_readings", { body: { person_id: f.person_id.value, value_c: v,
        gate: f.gate.value, note: f.note.value.trim() } });
      say(msg, t(m.fever ? "rpt_manual_fever" : "rpt_manual_saved", { value: fmtC(m.value_c) }), m.fever);
      f.reset();
      $("#manual-person").value = "";
      $("#manual-chosen").textContent = "";
      await loadManual();
    } catch (err) { say(msg, err.message, true); }
  });

  // ------------------------------------------------------------------ warnings and rules

  function ruleText(r) {
    if (r.what === "alarm_rate") return t("rpt_rule_rate", { factor: r.factor, days: r.baseline_days, min: r.min_alarms });
    return t("rpt_rule_count", { n: r.threshold, days: r.days });
  }

  // The rules: controller.toml's, read-only here, and the console's, which admins, the reporter and the backup
  // reporter add, change, disable or enable, and delete. The server checks a rule as controller.toml's loader
  // does, and its refusal is shown under the form as it comes.
  let editing = null; // the console rule's id the form is changing, or null: a new rule

  function ruleShown(what) {
    $$("#rule-form .for-count").forEach((l) => { l.hidden = what === "alarm_rate"; });
    $$("#rule-form .for-rate").forEach((l) => { l.hidden = what !== "alarm_rate"; });
  }

  function ruleBody(f) {
    const num = (name) => {
      const raw = f[name].value.trim();
      if (raw === "") return null;
      const n = Number(raw);
      return Number.isFinite(n) ? n : raw;
    };
    const body = { scope: f.scope.value, what: f.what.value };
    const keys = f.what.value === "alarm_rate" ? ["factor", "min_alarms", "baseline_days"] : ["threshold", "days"];
    keys.forEach((k) => { body[k] = num(k); });
    return body;
  }

  function resetRuleForm() {
    const f = $("#rule-form");
    editing = null;
    f.reset();
    ruleShown(f.what.value);
    $("#rule-form-title").textContent = t("rpt_rule_add");
    $("#rule-save").textContent = t("rpt_rule_save_new");
    $("#rule-cancel").hidden = true;
    delete f.dataset.editing;
  }

  function editRule(r) {
    const f = $("#rule-form");
    editing = r.id;
    f.dataset.editing = r.id;
    ["scope", "what", "threshold", "days", "factor", "min_alarms", "baseline_days"].forEach((k) => { f[k].value = r[k]; });
    ruleShown(r.what);
    $("#rule-form-title").textContent = t("rpt_rule_edit", { key: r.key });
    $("#rule-save").textContent = t("rpt_rule_save");
    $("#rule-cancel").hidden = false;
    say($("#rule-msg"), "");
    f.scope.focus();
  }

  async function ruleAction(r, action) {
    const msg = $("#rule-msg");
    if (action === "delete" && !confirm(t("rpt_rule_delete_confirm", { key: r.key }))) return;
    try {
      if (action === "delete") await api(`/api/reports/rules/${r.id}/delete`, { body: {} });
      else await api(`/api/reports/rules/${r.id}/enabled`, { body: { enabled: action === "enable" } });
      say(msg, t("rpt_rule_done_" + action, { key: r.key }));
      if (action === "delete" && editing === r.id) resetRuleForm();
    } catch (err) { say(msg, err.message, true); }
    await loadWarnings();
  }

  function ruleState(r) {
    if (!r.enabled) return t("rpt_rule_disabled");
    return r.in_force ? t("rpt_rule_in_force") : t("rpt_rule_twin");
  }

  function ruleRow(r, canEdit) {
    const actions = [];
    if (r.source === "console" && canEdit) {
      const b = (label, fn, cls) => {
        const x = el("button", { type: "button", class: cls, dataset: { action: cls } }, t(label));
        x.addEventListener("click", fn);
        return x;
      };
      actions.push(b("rpt_rule_edit_btn", () => editRule(r), "edit"),
        r.enabled ? b("rpt_rule_disable", () => ruleAction(r, "disable"), "disable")
          : b("rpt_rule_enable", () => ruleAction(r, "enable"), "enable"),
        b("rpt_rule_delete", () => ruleAction(r, "delete"), "delete"));
    }
    const source = r.source === "toml" ? t("rpt_source_toml")
      : `${t("rpt_source_console")} · ${r.updated_by} ${clock(r.updated_local)}`;
    return el("tr", { dataset: { rule: r.key, source: r.source, enabled: r.enabled ? "1" : "0" },
      class: r.enabled && r.in_force ? "" : "muted" },
    el("td", { class: "mono" }, r.key === r.spec ? r.key : `${r.key} · ${r.spec}`), el("td", {}, source),
    el("td", {}, t("rpt_scope_" + r.scope)), el("td", {}, t("rpt_what_" + r.what)), el("td", {}, ruleText(r)),
    el("td", {}, ruleState(r)), el("td", { class: "rule-actions" }, actions));
  }

  $("#rule-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = ev.target;
    const msg = $("#rule-msg");
    try {
      const path = editing === null ? "/api/reports/rules" : `/api/reports/rules/${editing}`;
      const r = await api(path, { body: ruleBody(f) });
      say(msg, t(editing === null ? "rpt_rule_added" : "rpt_rule_changed", { key: r.rule.key, spec: r.rule.spec }));
      resetRuleForm();
    } catch (err) { say(msg, err.message, true); return; }
    await loadWarnings();
  });
  $("#rule-form").what.addEventListener("change", (ev) => ruleShown(ev.target.value));
  $("#rule-cancel").addEventListener("click", () => { resetRuleForm(); say($("#rule-msg"), ""); });

  async function loadWarnings() {
    const d = await api("/api/reports/warnings");
    $("#warnings").replaceChildren(...d.warnings.map((w) => el("li", { dataset: { warning: w.id } },
      el("div", { class: "line1" }, el("b", {}, `${t("rpt_scope_" + w.scope)} ${w.scope_key}`),
        ` · ${t("rpt_what_" + w.what)} ${w.count} ≥ ${w.threshold} · ${clock(w.raised_local)}`),
      el("div", { class: "draft" }, el("h3", {}, w.draft.title || ""), el("p", {}, w.draft.text || ""),
        w.draft.cases_today && w.draft.cases_today.length ? el("p", { class: "small muted" },
          w.draft.cases_today.map((c) => `${c.time} ${c.class || "—"} ${c.state}`).join("; ")) : null))));
    $("#warnings-none").hidden = d.warnings.length > 0;
    fill($("#rules tbody"), d.rules.map((r) => ruleRow(r, d.can_edit_rules)), "rpt_no_rules", 7);
    $("#rule-form").hidden = !d.can_edit_rules || !d.configured;
  }

  // ------------------------------------------------------------------ navigation

  const VIEWS = { reports: loadReports, absences: loadAbsences, warnings: loadWarnings };

  function route() {
    // A class teacher (absences without view) has their classes' absences only: that is their page.
    const home = can("view") ? "reports" : "absences";
    let view = (location.hash.match(/^#\/(\w+)$/) || [null, home])[1];
    if (!(view in VIEWS) || (view === "absences" && !can("absences") && !can("manual_reading"))) view = home;
    if (view !== "absences" && !can("view")) view = home;
    $$(".rview").forEach((v) => { v.hidden = v.id !== "v-" + view; });
    $$("#rbar nav a").forEach((a) => a.classList.toggle("on", a.dataset.view === view));
    clearInterval(timer);
    VIEWS[view]().catch((err) => console.error(err));
    // Others change things too (an alarm disposed, the scheduler sending): refresh the lists, never a form.
    if (view !== "absences") timer = setInterval(() => VIEWS[view]().catch(console.error), 5000);
  }

  async function start() {
    await TG.loadMessages();
    const r = await fetch("/api/me", { credentials: "same-origin" });
    if (r.status === 401) { location.href = "/login"; return; }
    ME = await r.json();
    document.documentElement.lang = LANG === "zh" ? "zh-CN" : "en";
    document.title = t("rpt_title");
    $$("[data-t]").forEach((e) => { e.textContent = t(e.dataset.t); });
    $("#manual-q").placeholder = t("rpt_person_search");
    $("#rwho").textContent = `${ME.user} · ${t("role_" + ME.role)}`;
    $("#rbar a[data-view=absences]").hidden = !can("absences") && !can("manual_reading");
    $$("#rbar a[data-view=reports], #rbar a[data-view=warnings]").forEach((a) => { a.hidden = !can("view"); });
    $("#to-console").hidden = !can("view");
    $("#absence-card").hidden = !can("absences");
    $("#manual-card").hidden = !can("manual_reading");
    window.addEventListener("hashchange", route);
    route();
    window.tgReports = { ready: true };
  }

  start().catch((err) => { console.error(err); });
})();
