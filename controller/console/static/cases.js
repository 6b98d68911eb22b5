// thermogate: the school doctor's phone page. Open fever cases, a case step by step (each step one tap, or a
// short form), the timeline and the notifications sent; drills for admins. Plain JavaScript, no build step.
"use strict";

(function () {
  // t(), el(), api(), $(), $$() and fmtC() are common.js's, shared with the console and the other pages.
  const TG = window.thermogate;
  const { t, el, api, $, $$, fmtC } = TG;
  const LANG = TG.lang;
  let ME = null;
  TG.session(() => ME); // api()'s CSRF token
  let CASE = null; // the case shown
  let showAll = false;
  let timer = null;

  const can = (p) => ME && ME.can.indexOf(p) >= 0;
  const clock = (s) => (s ? s.slice(11, 16) : "");

  function say(text, bad) {
    const m = $("#case-msg");
    m.textContent = text;
    m.classList.toggle("err", !!bad);
  }

  // ------------------------------------------------------------------ the list

  async function loadList() {
    const data = await api("/api/cases" + (showAll ? "?all=1" : ""));
    const list = $("#case-list");
    list.replaceChildren(...data.cases.map((c) => el("li", {},
      el("a", { href: `#/case/${c.id}`, class: `st-${c.state}`, dataset: { case: c.id, state: c.state } },
        el("div", { class: "line1" }, el("span", {}, c.gate_name, c.drill ? el("span", { class: "tag-drill" },
          t("case_drill")) : null), el("span", {}, clock(c.opened_local))),
        el("div", { class: "muted" }, `${t("case_title", { id: c.id })} · ${t("case_state_" + c.state)}`)))));
    $("#case-none").hidden = data.cases.length > 0;
    $("#drill-strip").hidden = !data.cases.some((c) => c.drill && c.state !== "closed");
  }

  // ------------------------------------------------------------------ one case

  const FORMS = {
    recheck: () => [
      choices("instrument", ["mercury", "electronic", "infrared"], "instr_"),
      choices("site", ["axillary", "oral", "forehead"], "site_"),
      el("label", {}, t("f_value"), el("input", { type: "number", name: "value_c", step: "0.1", min: "30",
        max: "45", inputmode: "decimal", required: true })),
    ],
    symptoms: () => [
      el("div", { class: "choices checklist" }, ...CASE_SYMPTOMS.map((s) => el("label", {},
        el("input", { type: "checkbox", name: "checklist", value: s }), el("span", {}, t("sym_" + s))))),
      ...["travel", "contact", "cluster"].map((h) => el("div", { class: "history" },
        el("div", { class: "choices" }, el("label", {}, el("input", { type: "checkbox", name: h, value: "yes" }),
          el("span", {}, t("hist_" + h)))),
        el("input", { type: "text", name: h + "_detail", placeholder: t("f_detail") }))),
    ],
    decision: () => [el("div", { class: "outcomes" }, ...["back_in", "sent_home", "fever_clinic", "ambulance"].map(
      (o) => el("button", { type: "button", dataset: { outcome: o } }, t("case_out_" + o))))],
    let_in: () => [el("label", {}, t("f_gate"), el("select", { name: "gate" }, ...CASE.gates.map((g) =>
      el("option", { value: g.id, selected: g.id === CASE.gate }, g.name))))],
    notified: () => [choices("recipient", ["class_teacher", "parent", "leader"], "rcp_"),
      choices("how", ["phone", "sms", "wechat", "dingtalk", "email", "in_person"], "how_"),
      el("label", {}, t("f_by_whom"), el("input", { type: "text", name: "by_whom", value: ME.user }))],
    handed_over: () => [el("label", {}, t("f_to_whom"), el("input", { type: "text", name: "to_whom", required: true }))],
    reported_upward: () => [el("label", {}, t("f_to_whom"), el("input", { type: "text", name: "to_whom",
      required: true })), choices("how", ["phone", "sms", "wechat", "dingtalk", "email", "in_person"], "how_")],
    follow_up: () => [el("input", { type: "date", name: "date", value: today() })],
    cleared_to_return: () => [
      el("div", { class: "choices" }, el("label", {}, el("input", { type: "checkbox", name: "certificate_seen",
        value: "yes" }), el("span", {}, t("f_certificate_seen")))),
      el("label", {}, t("f_issuer"), el("input", { type: "text", name: "issuer", required: true })),
      el("label", {}, t("f_cert_date"), el("input", { type: "date", name: "certificate_date", value: today() })),
    ],
  };
  // Steps recorded with one tap: nothing to ask (times are now; the escort's room and the areas disinfected
  // have the school's usual answer).
  const ONE_TAP = {
    acknowledged: () => ({}),
    escorted: () => ({ room: t("f_room_default") }),
    disinfected: () => ({ areas: t("f_areas_default") }),
    closed: () => ({}),
  };
  const NOTE_REQUIRED = { follow_up: true };
  const CASE_SYMPTOMS = ["chills", "fatigue", "cough", "sore_throat", "runny_nose", "headache", "muscle_ache",
    "shortness_of_breath", "loss_of_smell_or_taste", "vomiting", "diarrhoea", "rash"];

  function today() {
    const d = new Date();
    return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
  }

  function choices(name, values, prefix) {
    return el("div", { class: "choices", dataset: { name } }, ...values.map((v, i) =>
      el("label", {}, el("input", { type: "radio", name, value: v, checked: i === 0 && name !== "instrument" &&
        name !== "site" ? true : null }), el("span", {}, t(prefix + v)))));
  }

  async function loadCase(id) {
    CASE = await api(`/api/cases/${id}`);
    renderCase();
  }

  function renderCase() {
    const c = CASE;
    const head = $("#case-head");
    const who = c.person ? (c.person.name ? `${c.person.name} · ${c.person.class_name}` : c.person.id)
      : t("case_person_unknown");
    head.replaceChildren(
      el("div", { class: "line1" }, el("strong", {}, t("case_title", { id: c.id })),
        c.drill ? el("span", { class: "tag-drill" }, t("case_drill")) : null),
      el("div", {}, `${c.gate_name} · ${c.opened_local || ""}`),
      el("div", {}, t("case_estimate", { c: fmtC(c.alarm && c.alarm.estimate_c) })),
      el("div", { id: "case-person" }, who),
      el("div", { class: "state", id: "case-state", dataset: { state: c.state } }, t("case_state_" + c.state)));
    $("#steps").replaceChildren(...Object.entries(c.allowed).map(([kind, why]) => el("button", {
      type: "button", class: "step", disabled: why !== null, title: why || "", dataset: { kind },
    }, t("step_" + kind), why !== null ? el("span", { class: "why" }, reason(kind, why)) : null)));
    $("#timeline").replaceChildren(...c.steps.map((s) => el("li", { dataset: { kind: s.kind } },
      el("div", {}, el("strong", {}, t("step_" + s.kind)), " ", summary(s)),
      el("div", { class: "when" }, `${s.at_local} · ${s.by}`))));
    const notes = c.notifications.map((n) => el("li", { dataset: { ok: n.ok ? "1" : "0" } },
      el("span", { class: n.ok ? "ok" : "bad" }, n.ok ? "✓" : "✗"), ` ${clock(n.sent_local)} ${n.channel} → `,
      n.recipient, n.escalation ? ` (+${n.escalation})` : "", n.error ? ` — ${n.error}` : ""));
    $("#notifications").replaceChildren(...(notes.length ? notes : [el("li", { class: "muted" },
      t("case_no_notifications"))]));
    $("#drill-strip").hidden = !c.drill;
  }

  // The state machine's reason in the page's language (its catalogue key), else as the server words it.
  function reason(kind, why) {
    const key = CASE.why && CASE.why[kind];
    return key && TG.has(key) ? t(key) : why;
  }

  function summary(s) {
    const d = s.data || {};
    switch (s.kind) {
      case "recheck": return `#${d.n} ${fmtC(d.value_c)} ${d.instrument ? t("instr_" + d.instrument) : ""} ` +
        `${d.site ? t("site_" + d.site) : ""}`;
      case "symptoms": return [...(d.checklist || []).map((x) => t("sym_" + x)),
        ...["travel", "contact", "cluster"].filter((h) => d[h]).map((h) => `${t("hist_" + h)}: ${d[h + "_detail"]}`)
      ].join("、") || "—";
      case "decision": return t("case_out_" + d.outcome);
      case "let_in": return `${d.gate} #${d.counter}`;
      case "notified": return `${t("rcp_" + d.recipient)} · ${t("how_" + d.how)} · ${d.by_whom}`;
      case "handed_over": return d.to_whom;
      case "reported_upward": return `${d.to_whom} · ${t("how_" + d.how)}`;
      case "follow_up": return `${d.date} ${d.note}`;
      case "cleared_to_return": return `${d.issuer} ${d.certificate_date}`;
      case "disinfected": return d.areas;
      case "escorted": return d.room;
      default: return d.note || "";
    }
  }

  async function record(kind, data) {
    try {
      CASE = await api(`/api/cases/${CASE.id}/steps`, { body: { kind, data } });
      $("#step-form").hidden = true;
      renderCase();
      say(t("case_saved"));
    } catch (err) { say(err.message, true); }
  }

  function openForm(kind) {
    const f = $("#step-form");
    const extra = kind === "decision" || kind === "let_in" ? [] : [el("label", {}, t("f_note"),
      el("textarea", { name: "note", rows: "2", required: NOTE_REQUIRED[kind] || null }))];
    const save = kind === "decision" ? null : el("button", { type: "submit", class: "save" },
      kind === "let_in" ? t("step_let_in") : t("f_save"));
    f.replaceChildren(el("h3", {}, t("step_" + kind)), ...FORMS[kind](), ...extra, save,
      el("button", { type: "button", class: "cancel" }, t("f_cancel")));
    f.dataset.kind = kind;
    f.hidden = false;
    f.scrollIntoView({ block: "nearest" });
  }

  function formData(f) {
    const kind = f.dataset.kind;
    const fd = new FormData(f);
    const data = {};
    for (const [k, v] of fd.entries()) {
      if (k === "checklist") (data.checklist = data.checklist || []).push(v);
      else data[k] = v;
    }
    if (kind === "recheck") data.value_c = data.value_c === "" || data.value_c === undefined ? null : Number(data.value_c);
    if (kind === "symptoms") {
      data.checklist = data.checklist || [];
      ["travel", "contact", "cluster"].forEach((h) => { data[h] = data[h] === "yes"; });
    }
    if (kind === "cleared_to_return") data.certificate_seen = data.certificate_seen === "yes";
    if (data.note === "") delete data.note;
    return data;
  }

  $("#steps").addEventListener("click", (ev) => {
    const b = ev.target.closest("button.step");
    if (!b || b.disabled) return;
    const kind = b.dataset.kind;
    say("");
    if (ONE_TAP[kind]) record(kind, ONE_TAP[kind]());
    else openForm(kind);
  });

  $("#step-form").addEventListener("click", (ev) => {
    const f = $("#step-form");
    if (ev.target.closest(".cancel")) { f.hidden = true; return; }
    const o = ev.target.closest("[data-outcome]");
    if (o) {
      const note = f.querySelector("textarea[name=note]");
      record("decision", Object.assign({ outcome: o.dataset.outcome }, note && note.value ? { note: note.value } : {}));
    }
  });

  $("#step-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = ev.target;
    const kind = f.dataset.kind;
    const data = formData(f);
    if (kind === "let_in") {
      try {
        const r = await api(`/api/cases/${CASE.id}/let_in`, { body: { gate: data.gate } });
        CASE = r.case;
        f.hidden = true;
        renderCase();
        say(t("case_let_in_done", { gate: r.gate }));
      } catch (err) { say(err.message, true); }
      return;
    }
    record(kind, data);
  });

  // ------------------------------------------------------------------ drills (admins)

  async function loadDrills() {
    const data = await api("/api/drills");
    const gates = $("#drill-gates");
    if (!gates.children.length) {
      gates.replaceChildren(...data.gates.map((g) => el("label", {}, el("input", { type: "checkbox", name: "gate",
        value: g.id }), ` ${g.name}`)));
      $("#drill-scenario").replaceChildren(...data.scenarios.map((s) => el("option", { value: s },
        t("drill_scenario_" + s))));
    }
    const running = data.drills.filter((d) => !d.ended_at);
    $("#drill-list").replaceChildren(...data.drills.map((d) => el("li", { dataset: { drill: d.id } },
      el("div", {}, el("strong", {}, `#${d.id} ${t("drill_scenario_" + d.scenario)}`), ` · ${d.gates.join(", ")}`),
      el("div", { class: "muted" }, `${d.started_local} · ${d.ended_at ? t("drill_ended") : t("drill_running")}`),
      ...d.cases.flatMap((c) => c.steps.map((s) => el("div", { class: "timing" },
        t("drill_timing", { kind: t("step_" + s.kind), s: s.after_alarm_s.toFixed(1) })))),
      d.ended_at ? el("div", {}, d.debrief) : el("form", { class: "drill-end", dataset: { drill: d.id } },
        el("textarea", { name: "debrief", rows: "3", placeholder: t("drill_debrief") }),
        el("button", { type: "submit", class: "big" }, t("drill_end"))))));
    $("#drill-strip").hidden = running.length === 0;
  }

  $("#drill-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const gates = $$("#drill-gates input:checked").map((i) => i.value);
    try {
      await api("/api/drills", { body: { gates, scenario: $("#drill-scenario").value } });
      $("#drill-msg").textContent = t("drill_running");
      await loadDrills();
    } catch (err) { $("#drill-msg").textContent = err.message; }
  });

  $("#drill-list").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = ev.target;
    try {
      const r = await api(`/api/drills/${f.dataset.drill}/end`, { body: { debrief: f.debrief.value } });
      $("#drill-msg").textContent = t("drill_restored", { n: Object.keys(r.restored).length });
      await loadDrills();
    } catch (err) { $("#drill-msg").textContent = err.message; }
  });

  // ------------------------------------------------------------------ navigation

  $("#show-open").addEventListener("click", () => { showAll = false; markSeg(); loadList().catch(console.error); });
  $("#show-all").addEventListener("click", () => { showAll = true; markSeg(); loadList().catch(console.error); });
  function markSeg() {
    $("#show-open").classList.toggle("on", !showAll);
    $("#show-all").classList.toggle("on", showAll);
  }

  function route() {
    const m = location.hash.match(/^#\/case\/(\d+)$/);
    const view = m ? "case" : location.hash === "#/drills" && can("admin") ? "drills" : "list";
    $$(".cview").forEach((v) => { v.hidden = v.id !== "v-" + view; });
    clearInterval(timer);
    const load = view === "case" ? () => loadCase(m[1]) : view === "drills" ? loadDrills : loadList;
    if (view === "case") { $("#step-form").hidden = true; say(""); }
    load().catch((err) => say(err.message, true));
    // Others record steps too (the guard acknowledges, a notification arrives): refresh, but never under an
    // open form.
    timer = setInterval(() => {
      if (view === "case" && !$("#step-form").hidden) return;
      load().catch(console.error);
    }, 2000);
  }

  async function start() {
    await TG.loadMessages();
    const r = await fetch("/api/me", { credentials: "same-origin" });
    if (r.status === 401) { location.href = "/login"; return; }
    ME = await r.json();
    document.documentElement.lang = LANG === "zh" ? "zh-CN" : "en";
    document.title = t("cases_title");
    $$("[data-t]").forEach((e) => { e.textContent = t(e.dataset.t); });
    $("#cwho").textContent = `${ME.user} · ${t("role_" + ME.role)}`;
    $("#to-drills").hidden = !can("admin");
    window.addEventListener("hashchange", route);
    route();
    window.tgCases = { ready: true };
  }

  start().catch((err) => { console.error(err); });
})();
