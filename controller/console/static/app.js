// thermogate guards' console: the live wall, alarms, doors, history, today and settings.
// Plain JavaScript, no build step, nothing loaded from anywhere but the controller.
"use strict";

(function () {
  // ------------------------------------------------------------------ messages

  // t(), el(), api(), $(), $$() and fmtC() are common.js's, shared with the cases and reports pages.
  const TG = window.thermogate;
  const { t, el, api, $, $$, fmtC } = TG;
  const LANG = TG.lang;

  function translatePage() {
    document.documentElement.lang = LANG === "zh" ? "zh-CN" : "en";
    document.title = t("app_title");
    $$("[data-t]").forEach((el) => { el.textContent = t(el.dataset.t); });
    $("#lang").value = LANG;
  }

  // ------------------------------------------------------------------ colour map

  // An ironbow-style map: black, indigo, purple, red, orange, yellow, near white.
  // Computed here once into a 256-entry table; index 255 is kept for "no reading".
  const STOPS = [[0.0, 0, 0, 0], [0.12, 28, 0, 88], [0.30, 118, 0, 150], [0.45, 188, 20, 122],
    [0.60, 230, 70, 40], [0.75, 250, 140, 0], [0.90, 255, 212, 40], [1.0, 255, 255, 230]];
  const LUT = (function () {
    const lut = new Uint8ClampedArray(256 * 4);
    for (let i = 0; i < 256; i++) {
      const x = i / 255;
      let k = 0;
      while (k < STOPS.length - 2 && x > STOPS[k + 1][0]) k++;
      const a = STOPS[k], b = STOPS[k + 1];
      const f = Math.min(1, Math.max(0, (x - a[0]) / (b[0] - a[0])));
      for (let c = 0; c < 3; c++) lut[i * 4 + c] = Math.round(a[c + 1] + f * (b[c + 1] - a[c + 1]));
      lut[i * 4 + 3] = 255;
    }
    return lut;
  })();
  const NO_READING = [90, 90, 90];

  // Paint 24x32 temperatures (a function i -> degC or NaN) into a canvas, mapped over [lo, hi].
  function paintThermal(canvas, temps, lo, hi, box, label) {
    const small = canvas._small || (canvas._small = document.createElement("canvas"));
    small.width = 32; small.height = 24;
    const sctx = small.getContext("2d");
    const img = canvas._img || (canvas._img = sctx.createImageData(32, 24));
    const d = img.data;
    const scale = 255 / Math.max(0.5, hi - lo);
    for (let i = 0; i < 768; i++) {
      const v = temps(i);
      const o = i * 4;
      if (v !== v) {
        d[o] = NO_READING[0]; d[o + 1] = NO_READING[1]; d[o + 2] = NO_READING[2]; d[o + 3] = 255;
        continue;
      }
      let k = Math.round((v - lo) * scale);
      k = k < 0 ? 0 : k > 255 ? 255 : k;
      d[o] = LUT[k * 4]; d[o + 1] = LUT[k * 4 + 1]; d[o + 2] = LUT[k * 4 + 2]; d[o + 3] = 255;
    }
    sctx.putImageData(img, 0, 0);
    const ctx = canvas.getContext("2d");
    ctx.imageSmoothingEnabled = true;
    ctx.imageSmoothingQuality = "low"; // bilinear: enough for 32 x 24 pixels, and cheap without a GPU
    ctx.drawImage(small, 0, 0, canvas.width, canvas.height);
    if (box) {
      const sx = canvas.width / 32, sy = canvas.height / 24;
      ctx.lineWidth = 2;
      ctx.strokeStyle = "#00e5ff";
      ctx.strokeRect(box[1] * sx, box[0] * sy, (box[3] - box[1]) * sx, (box[2] - box[0]) * sy);
      if (label) {
        ctx.font = "bold 15px sans-serif";
        const w = ctx.measureText(label).width + 8;
        const y = Math.max(0, box[0] * sy - 20);
        ctx.fillStyle = "rgba(0,0,0,0.7)";
        ctx.fillRect(box[1] * sx, y, w, 19);
        ctx.fillStyle = "#ffffff";
        ctx.fillText(label, box[1] * sx + 4, y + 15);
      }
    }
  }

  // The colour scale of a snapshot: what the colours are (the apparent surface temperature the sensor
  // sees, emissivity 1), the face reading marked on it, and the body estimate said apart from it.
  function scaleBar(el, lo, hi, faceC, estimateC) {
    el.textContent = "";
    const bar = document.createElement("canvas");
    bar.width = 256; bar.height = 14;
    const ctx = bar.getContext("2d");
    for (let i = 0; i < 256; i++) {
      ctx.fillStyle = `rgb(${LUT[i * 4]},${LUT[i * 4 + 1]},${LUT[i * 4 + 2]})`;
      ctx.fillRect(i, 0, 1, 14);
    }
    if (faceC !== null && faceC !== undefined && faceC >= lo && faceC <= hi) {
      const x = Math.round((faceC - lo) / (hi - lo) * 255);
      ctx.fillStyle = "#00e5ff"; ctx.fillRect(x - 1, 0, 3, 14);
    }
    const row1 = el.appendChild(document.createElement("div"));
    row1.className = "scale-row";
    const a = document.createElement("span"); a.textContent = fmtC(lo);
    const b = document.createElement("span"); b.textContent = fmtC(hi);
    row1.append(a, bar, b);
    const cap = document.createElement("div");
    cap.className = "scale-caption";
    cap.textContent = t("scale_apparent");
    el.append(cap);
    if (faceC !== null && faceC !== undefined && estimateC !== null && estimateC !== undefined) {
      const why = document.createElement("div");
      why.className = "scale-caption";
      why.textContent = t("scale_face_vs_body", { face: fmtC(faceC), body: fmtC(estimateC) });
      el.append(why);
    }
  }

  // Snapshot JSON (int16 centi-degC, base64) -> Float32Array of degC with NaN.
  function snapshotTemps(snap) {
    const raw = atob(snap.data);
    const out = new Float32Array(768);
    for (let i = 0; i < 768; i++) {
      let v = raw.charCodeAt(2 * i) | (raw.charCodeAt(2 * i + 1) << 8);
      if (v & 0x8000) v -= 0x10000;
      out[i] = v === -32768 ? NaN : v / 100;
    }
    return out;
  }

  function drawSnapshot(canvas, scaleEl, snap, box, faceC, estimateC) {
    const ctx = canvas.getContext("2d");
    if (!snap) {
      ctx.fillStyle = "#333"; ctx.fillRect(0, 0, canvas.width, canvas.height);
      ctx.fillStyle = "#ccc"; ctx.font = "16px sans-serif"; ctx.fillText(t("no_snapshot"), 20, 40);
      scaleEl.textContent = "";
      return;
    }
    const temps = snapshotTemps(snap);
    const lo = snap.min_c, hi = Math.max(snap.max_c, snap.min_c + 4);
    paintThermal(canvas, (i) => temps[i], lo, hi, box, null);
    scaleBar(scaleEl, lo, hi, faceC, estimateC);
  }

  // ------------------------------------------------------------------ formatting

  function fmtAge(s) {
    if (s === null || s === undefined || !isFinite(s)) return "—";
    if (s < 60) return t("age_s", { n: s.toFixed(1) });
    if (s < 3600) return t("age_min", { n: Math.floor(s / 60) });
    return t("age_h", { n: Math.floor(s / 3600) });
  }
  function clockTime(unix) { // the school's clock, whatever the browser's time zone
    return new Date(unix * 1000).toLocaleTimeString("en-GB", { timeZone: ME ? ME.timezone : undefined, hour12: false });
  }
  function row(tbody, cells) {
    const tr = el("tr");
    cells.forEach((c) => { const td = el("td"); if (c instanceof Node) td.append(c); else td.textContent = c === null || c === undefined ? "" : c; tr.append(td); });
    tbody.append(tr);
    return tr;
  }

  // ------------------------------------------------------------------ API

  let ME = null;
  TG.session(() => ME); // api()'s CSRF token: ME's, also after the socket's reconnection fetched it again
  const can = (p) => ME && ME.can.indexOf(p) >= 0;

  // ------------------------------------------------------------------ live wall

  const gates = new Map(); // id -> {summary, tile, frame, dirty, lastFrameAt (server s), range}
  let serverOffset = 0; // server time - client time, seconds
  const nowServer = () => Date.now() / 1000 + serverOffset;
  // Figures for the benchmark and the tests: frames received and drawn, lags in ms, faces in view.
  const STATS = window.tgStats = { frames: 0, drawn: 0, lag: [], recvLag: [], alarmShown: {}, faces: {} };
  const LIVE_S = 10; // a gate silent this long is shown as without frames

  function stateText(state) { return t("state_" + state); }

  // A gate's one display name on every page: its registered name, or its id when it has none.
  function gateName(id) {
    const g = gates.get(id);
    return (g && g.summary && g.summary.name) || id;
  }

  function makeTile(id) {
    const tile = el("div", { class: "tile", id: "tile-" + id, dataset: { gate: id } });
    const head = el("div", { class: "tile-head" });
    head.append(el("span", { class: "gate-name" }, id), el("span", { class: "online" }));
    if (can("door")) {
      const b = el("button", { type: "button", class: "door-btn" }, t("door_button"));
      b.addEventListener("click", () => openDoorDialog(id));
      head.append(b);
    }
    const canvas = el("canvas", { width: 320, height: 240, class: "thermal" });
    const info = el("div", { class: "tile-info" });
    info.append(el("div", { class: "state" }), el("div", { class: "last" }), el("div", { class: "health" }),
      el("div", { class: "reduced", hidden: "" }, t("reduced_accuracy")), el("div", { class: "lock", hidden: "" }));
    tile.append(head, canvas, info);
    return tile;
  }

  function gateEntry(id) {
    let g = gates.get(id);
    if (!g) {
      g = { id, summary: null, tile: makeTile(id), frame: null, dirty: false, lastFrameAt: null, range: null };
      gates.set(id, g);
      const wall = $("#wall");
      const after = Array.from(wall.children).find((c) => c.dataset.gate > id);
      wall.insertBefore(g.tile, after || null);
      $("#wall-empty").hidden = true;
    }
    return g;
  }

  function updateSummary(s) {
    const g = gateEntry(s.gate);
    g.summary = s;
    if (s.last_frame_at && (!g.lastFrameAt || s.last_frame_at > g.lastFrameAt)) g.lastFrameAt = s.last_frame_at;
    const tile = g.tile;
    const nameEl = $(".gate-name", tile);
    nameEl.textContent = gateName(s.gate);
    if (s.name) nameEl.append(el("span", { class: "gate-id" }, s.gate));
    nameEl.title = s.location ? `${s.gate} · ${s.location}` : s.gate;
    $(".reduced", tile).hidden = !s.reduced_accuracy;
    const lock = $(".lock", tile);
    lock.hidden = !s.manual_lock;
    if (s.manual_lock) lock.textContent = t("held_locked", { user: s.manual_lock.user, reason: s.manual_lock.reason });
    const ld = s.last_decision;
    $(".last", tile).textContent = ld ? `${t("last_decision")}: ${t("dec_" + ld.decision)}` +
      (ld.estimate_c !== null && ld.estimate_c !== undefined ? ` ${fmtC(ld.estimate_c)}` : "") +
      (ld.decision === "RETRY" ? ` (${t("reason_" + ld.reason)})` : "") + whoText(ld) : `${t("last_decision")}: —`;
    $(".last", tile).className = "last" + (ld ? " dec-" + ld.decision : "");
    refreshTileStatus(g);
  }

  // Who the gate's credential named for a decision (docs/identity.md), or why it was refused.
  function whoText(ld) {
    const p = ld.person;
    let s = p ? ` · ${p.name}` + (p.visitor ? ` (${t("visitor")})` : "") : "";
    if (ld.reason === "register_at_gatehouse" && ld.credential && ld.credential !== "ok") {
      s += ` · ${t("credential_" + ld.credential)}`;
    }
    return s;
  }

  function personText(p) {
    if (!p) return "";
    if (p.visitor) return ` · ${p.name} (${t("visitor")})`;
    const teacher = p.class === undefined ? "" : p.teacher ? ` · ${t("class_teacher", { name: p.teacher.name, phone: p.teacher.phone })}`
      : ` · ${t("no_class_teacher")}`;
    return ` · ${p.name}` + (p.class ? ` ${p.class}` : "") + teacher;
  }

  function refreshTileStatus(g) {
    const s = g.summary;
    const tile = g.tile;
    const age = g.lastFrameAt ? nowServer() - g.lastFrameAt : null;
    const live = s && s.online && age !== null && age < LIVE_S;
    const on = $(".online", tile);
    on.textContent = !s || !s.online ? t("offline") : live ? `${t("online")} · ${fmtAge(Math.max(0, age))}`
      : `${t("no_frames")} · ${fmtAge(age)}`;
    on.className = "online " + (live ? "ok" : "bad");
    tile.classList.toggle("offline", !live);
    $(".state", tile).textContent = `${t("tracker")}: ${stateText(g.frame ? g.frame.header.state : s ? s.state : "no_eeprom")}`;
    const health = [];
    if (s) {
      health.push(s.sensor_ok === false ? t("sensor_fault") : s.sensor_ok ? t("sensor_ok") : t("sensor_unknown"));
      const lost = (s.lost_frames || 0) + (s.dropped_frames || 0);
      const errs = Object.values(s.errors || {}).reduce((a, b) => a + b, 0);
      if (lost || errs) health.push(t("lost_frames", { n: lost + errs }));
      if (s.fps) health.push(`${Number(s.fps).toFixed(1)} fps`);
      if (s.slow_refresh) health.push(t("slow_refresh", { hz: s.refresh_hz }));
      if (s.noisy_sensor) health.push(t("noisy_sensor", { netd: Number(s.sensor_netd_c).toFixed(2) }));
    }
    const ref = g.frame ? g.frame.header.reference_ok : null;
    health.push(ref === true ? t("reference_ok") : ref === false ? t("reference_missing") : t("reference_unknown"));
    const h = $(".health", tile);
    h.textContent = health.join(" · ");
    h.classList.toggle("bad", (s && (s.sensor_ok === false || s.slow_refresh || s.noisy_sensor)) || ref === false);
    tile.classList.toggle("alarm", openAlarmGates().has(g.id));
  }

  function onFrame(buf) {
    const view = new DataView(buf);
    const n = view.getUint16(0, true);
    const header = JSON.parse(new TextDecoder().decode(new Uint8Array(buf, 2, n)));
    const pixels = new Uint8Array(buf, 2 + n, 768);
    const received = Date.now();
    STATS.frames++;
    push(STATS.recvLag, received - header.sent * 1000);
    const g = gateEntry(header.gate);
    g.frame = { header, pixels, received };
    if (header.time) g.lastFrameAt = header.time;
    g.dirty = true;
  }

  function drawTile(g) {
    const { header, pixels } = g.frame;
    const span = (header.hi - header.lo) / 254;
    const temps = (i) => (pixels[i] === 255 ? NaN : header.lo + pixels[i] * span);
    // A steady display range: it follows the scene slowly, so colours do not flicker.
    const lo = header.lo, hi = Math.max(header.hi, header.lo + 8);
    if (!g.range) g.range = [lo, hi];
    g.range[0] += 0.2 * (lo - g.range[0]);
    g.range[1] += 0.2 * (hi - g.range[1]);
    let label = null;
    const ld = g.summary && g.summary.last_decision;
    if (header.face_box) {
      if (ld && ld.estimate_c !== null && ld.estimate_c !== undefined && (header.state === "decided" || header.state === "leaving")) {
        label = `${t("dec_" + ld.decision)} ${fmtC(ld.estimate_c)}`;
      } else if (header.distance_m) {
        label = `${header.distance_m.toFixed(2)} m`;
      }
    }
    paintThermal($("canvas", g.tile), temps, g.range[0], g.range[1], header.face_box, label);
    STATS.drawn++;
    STATS.faces[g.id] = !!header.face_box;
    push(STATS.lag, Date.now() - (header.time || header.sent) * 1000);
  }

  function push(arr, v) { arr.push(v); if (arr.length > 20000) arr.splice(0, arr.length - 10000); }

  function frameLoop() {
    for (const g of gates.values()) {
      if (g.dirty) { g.dirty = false; drawTile(g); }
    }
    requestAnimationFrame(frameLoop);
  }

  setInterval(() => { for (const g of gates.values()) refreshTileStatus(g); }, 500);

  // ------------------------------------------------------------------ live socket

  let socket = null;
  let backoff = 500;

  function setConn(ok) {
    const c = $("#conn");
    c.textContent = ok ? t("conn_ok") : t("conn_lost");
    c.className = "conn " + (ok ? "ok" : "bad");
    document.body.classList.toggle("disconnected", !ok);
  }

  function connect() {
    const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws");
    ws.binaryType = "arraybuffer";
    socket = ws;
    ws.onopen = () => { backoff = 500; setConn(true); };
    ws.onmessage = (m) => {
      if (typeof m.data !== "string") { onFrame(m.data); return; }
      onEvent(JSON.parse(m.data));
    };
    ws.onclose = async (e) => {
      setConn(false);
      socket = null;
      if (e.code === 4401) { location.href = "/login"; return; }
      try { // refused because logged out, or the controller is away?
        const r = await fetch("/api/me", { credentials: "same-origin" });
        if (r.status === 401) { location.href = "/login"; return; }
        if (r.ok) ME = await r.json();
      } catch (err) { /* controller or network down: try again */ }
      setTimeout(connect, backoff);
      backoff = Math.min(5000, backoff * 2);
    };
  }

  function onEvent(ev) {
    switch (ev.kind) {
      case "hello":
        serverOffset = ev.now - Date.now() / 1000;
        ev.gates.forEach(updateSummary);
        alarms.clear();
        ev.alarms.forEach((a) => alarms.set(a.id, a));
        renderAlarms();
        alerts.clear();
        (ev.alerts || []).forEach((a) => alerts.set(a.gate + "|" + a.alert, a));
        renderAlerts();
        break;
      case "gates":
        serverOffset = ev.now - Date.now() / 1000;
        ev.gates.forEach(updateSummary);
        break;
      case "gate":
        updateSummary(ev);
        break;
      case "decision": {
        const g = gates.get(ev.gate);
        if (g && g.summary) {
          g.summary.last_decision = { decision: ev.decision, reason: ev.reason, estimate_c: ev.estimate_c, track: ev.track,
            person: ev.person };
          updateSummary(g.summary);
        }
        break;
      }
      case "identity": {  // a PASS kept shut: no code, or a refused one (register at the gatehouse)
        const g = gates.get(ev.gate);
        if (g && g.summary && g.summary.last_decision) {
          g.summary.last_decision.credential = ev.credential;
          updateSummary(g.summary);
        }
        break;
      }
      case "alarm":
        if (ev.alarm_id !== null && ev.alarm_id !== undefined) {
          alarms.set(ev.alarm_id, { id: ev.alarm_id, gate: ev.gate, time: ev.time, estimate_c: ev.estimate_c,
            status: "open", screening_id: ev.screening_id, reduced_accuracy: ev.reduced_accuracy, fresh: true,
            person: ev.person, case_id: ev.case_id, drill: ev.drill });
          renderAlarms();
          // Decision to banner: measured at the next animation frame, the one that paints the banner.
          requestAnimationFrame(() => { STATS.alarmShown[ev.alarm_id] = Date.now() - ev.time * 1000; });
        }
        break;
      case "alarm_update":
        if (ev.status === "disposed") alarms.delete(ev.id);
        else alarms.set(ev.id, Object.assign(alarms.get(ev.id) || {}, ev));
        renderAlarms();
        break;
      case "alert":
        if (ev.open) alerts.set(ev.gate + "|" + ev.alert, ev);
        else alerts.delete(ev.gate + "|" + ev.alert);
        renderAlerts();
        break;
      case "door":
        break;
    }
  }

  // ------------------------------------------------------------------ alerts (a person must act)

  const alerts = new Map(); // "gate|kind" -> open alert

  function renderAlerts() {
    const list = $("#alert-list");
    list.textContent = "";
    alerts.forEach((a) => {
      const li = el("li", { class: "alert-item", dataset: { alert: a.alert, gate: a.gate || "" } });
      li.append(el("span", { class: "alert-gate" }, a.gate || t("alert_site")),
        el("span", { class: "alert-text" }, t("alert_" + a.alert) +
          (a.alert === "notify_failed" && a.detail ? ` · ${a.detail}` : "")));  // whom to call
      if (can("ack") && a.id !== null && a.id !== undefined) {
        const b = el("button", { type: "button", class: "alert-dismiss" }, t("alert_dismiss"));
        b.addEventListener("click", async () => {
          try { await api(`/api/alerts/${a.id}/dismiss`, { body: {} }); } catch (err) { alert(err.message); }
        });
        li.append(b);
      }
      list.append(li);
    });
    $("#alert-bar").hidden = alerts.size === 0;
  }

  // ------------------------------------------------------------------ alarms

  const alarms = new Map(); // id -> alarm not yet disposed
  let muteUntil = 0;
  const MUTE_S = 120;

  function openAlarmGates() {
    const s = new Set();
    for (const a of alarms.values()) if (a.status === "open") s.add(a.gate);
    return s;
  }

  function renderAlarms() {
    const list = $("#alarm-list");
    list.textContent = "";
    // Newest first; the list scrolls inside a bounded banner (app.css) so the wall stays in view.
    const sorted = Array.from(alarms.values()).sort((a, b) => b.time - a.time || b.id - a.id);
    for (const a of sorted) {
      const li = el("li", { class: "alarm-item " + a.status, dataset: { alarm: a.id } });
      li.append(el("span", { class: "alarm-text" }, (a.drill ? `【${t("case_drill")}】` : "") +
        `${t(a.status === "open" ? "alarm_fever" : "alarm_waiting")} · ` +
        `${gateName(a.gate)} · ${fmtC(a.estimate_c)} · ${clockTime(a.time)}` + personText(a.person) +
        (a.reduced_accuracy ? ` · ${t("reduced_accuracy")}` : "")));
      const view = el("button", { type: "button", class: "alarm-open" }, t("alarm_view"));
      view.addEventListener("click", () => openAlarmDialog(a.id));
      li.append(view);
      if (a.case_id) li.append(el("a", { class: "alarm-case", href: `/cases#/case/${a.case_id}` }, t("alarm_case")));
      if (a.status === "open" && can("ack")) {
        const ack = el("button", { type: "button", class: "alarm-ack" }, t("ack"));
        ack.addEventListener("click", () => acknowledge(a.id));
        li.append(ack);
      }
      list.append(li);
    }
    const open = sorted.filter((a) => a.status === "open").length;
    $("#alarm-count").textContent = t("alarm_count", { open, waiting: sorted.length - open });
    $("#alarm-banner").hidden = sorted.length === 0;
    $("#alarm-banner").classList.toggle("ringing", sorted.some((a) => a.status === "open"));
    for (const g of gates.values()) g.tile.classList.toggle("alarm", openAlarmGates().has(g.id));
    updateSound();
  }

  async function acknowledge(id) {
    try {
      const a = await api(`/api/alarms/${id}/ack`, { body: {} });
      alarms.set(id, Object.assign(alarms.get(id) || {}, a));
      renderAlarms();
    } catch (err) { alert(err.message); }
  }

  const audio = $("#alarm-audio");

  function updateSound() {
    const ringing = Array.from(alarms.values()).some((a) => a.status === "open");
    const muted = Date.now() < muteUntil;
    $("#mute").hidden = !ringing;
    $("#mute-left").textContent = muted && ringing ? t("muted_for", { n: Math.ceil((muteUntil - Date.now()) / 1000) }) : "";
    if (ringing && !muted) {
      if (audio.paused) {
        const p = audio.play();
        if (p && p.catch) p.then(() => { $("#sound-lock").hidden = true; })
          .catch(() => { $("#sound-lock").hidden = false; });
      }
    } else if (!audio.paused) {
      audio.pause();
      audio.currentTime = 0;
    }
  }
  setInterval(updateSound, 1000);

  $("#mute").addEventListener("click", () => { muteUntil = Date.now() + MUTE_S * 1000; updateSound(); });
  $("#sound-enable").addEventListener("click", () => {
    // A click is what browsers need before a page may play sound: prime the element now.
    audio.muted = true;
    const p = audio.play();
    const done = () => { audio.pause(); audio.currentTime = 0; audio.muted = false; $("#sound-lock").hidden = true; updateSound(); };
    if (p && p.then) p.then(done).catch(done); else done();
  });

  async function openAlarmDialog(id) {
    const d = $("#alarm-dialog");
    $("#ad-msg").textContent = "";
    let a;
    try { a = await api(`/api/alarms/${id}`); } catch (err) { alert(err.message); return; }
    d.dataset.alarm = id;
    $("#ad-gate").textContent = gateName(a.gate);
    drawSnapshot($("#ad-canvas"), $("#ad-scale"), a.snapshot, null, a.screening ? a.screening.face_c : null, a.estimate_c);
    const facts = $("#ad-facts");
    facts.textContent = "";
    const add = (k, v) => { facts.append(el("dt", null, t(k)), el("dd", null, v)); };
    add("col_time", a.time_local);
    add("col_estimate", fmtC(a.estimate_c));
    if (a.screening && a.screening.face_c !== null) add("col_face", fmtC(a.screening.face_c));
    if (a.screening && a.screening.distance_m) add("col_distance", `${a.screening.distance_m.toFixed(2)} m`);
    if (a.reduced_accuracy) add("col_accuracy", t("reduced_accuracy"));
    add("col_status", t("status_" + a.status));
    if (a.acknowledged_by) add("col_acked_by", a.acknowledged_by);
    if (a.outcome) {
      add("col_outcome", t("outcome_" + a.outcome));
      add("col_recheck", fmtC(a.recheck_c));
      add("col_by", a.disposed_by);
      if (a.note) add("col_note", a.note);
    }
    $("#ad-ack").hidden = !(a.status === "open" && can("ack"));
    $("#ad-form").hidden = !(a.status !== "disposed" && can("dispose"));
    $("#ad-form").reset();
    if (!d.open) d.showModal();
  }

  $("#ad-ack").addEventListener("click", async () => {
    const id = Number($("#alarm-dialog").dataset.alarm);
    await acknowledge(id);
    openAlarmDialog(id);
  });

  $("#ad-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const id = Number($("#alarm-dialog").dataset.alarm);
    const f = e.target;
    const outcome = (f.querySelector("input[name=outcome]:checked") || {}).value;
    if (!outcome) { $("#ad-msg").textContent = t("err_outcome"); return; }
    const recheck = f.recheck_c.value.trim();
    try {
      await api(`/api/alarms/${id}/dispose`, { body: { outcome, recheck_c: recheck === "" ? null : Number(recheck), note: f.note.value } });
      alarms.delete(id);
      renderAlarms();
      await openAlarmDialog(id);
      $("#ad-msg").textContent = t("dispose_saved");
    } catch (err) { $("#ad-msg").textContent = err.message; }
  });

  // ------------------------------------------------------------------ doors

  function openDoorDialog(id) {
    const d = $("#door-dialog");
    d.dataset.gate = id;
    $("#dd-gate").textContent = gateName(id);
    $("#dd-msg").textContent = "";
    $("#dd-form").reset();
    d.showModal();
  }

  $("#dd-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const gate = $("#door-dialog").dataset.gate;
    const f = e.target;
    const action = f.querySelector("input[name=action]:checked").value;
    const reason = f.reason.value.trim();
    const msg = $("#dd-msg");
    if (!reason) { msg.textContent = t("err_reason_required"); msg.className = "msg bad"; $("#dd-reason").focus(); return; }
    try {
      if (action === "open") await api(`/api/doors/${encodeURIComponent(gate)}/open`, { body: { reason } });
      else await api(`/api/doors/${encodeURIComponent(gate)}/lock`, { body: { reason, locked: action === "lock" } });
      msg.textContent = t("door_done_" + action);
      msg.className = "msg ok";
    } catch (err) { msg.textContent = err.message; msg.className = "msg bad"; }
  });

  // ------------------------------------------------------------------ history

  function fillGateSelects() {
    $$(".gate-select").forEach((s) => {
      const v = s.value;
      s.textContent = "";
      s.append(el("option", { value: "" }, t("f_any")));
      Array.from(gates.keys()).sort().forEach((id) => s.append(el("option", { value: id }, gateName(id))));
      s.value = v;
    });
  }

  function query(form, extra) {
    const p = new URLSearchParams();
    new FormData(form).forEach((v, k) => { if (v) p.set(k, v); });
    if (extra) for (const k in extra) p.set(k, extra[k]);
    return p.toString();
  }

  let histOffset = 0;
  async function loadScreenings(more) {
    const form = $("#hist-form");
    histOffset = more ? histOffset + 200 : 0;
    const q = query(form, { limit: 200, offset: histOffset });
    $("#hist-csv").href = "/api/screenings.csv?" + query(form);
    const data = await api("/api/screenings?" + q);
    const tbody = $("#hist-table tbody");
    if (!more) tbody.textContent = "";
    data.screenings.forEach((s) => {
      const b = s.has_snapshot ? el("button", { type: "button", class: "snap-btn" }, t("view")) : "";
      if (b) b.addEventListener("click", () => openSnapshot(s.id));
      const tr = row(tbody, [s.time_local, gateName(s.gate), t("dec_" + s.decision), s.reason ? t("reason_" + s.reason) : "", fmtC(s.estimate_c),
        s.distance_m ? `${s.distance_m.toFixed(2)} m` : "—", b]);
      tr.className = "dec-" + s.decision;
      tr.dataset.screening = s.id;
    });
    $("#hist-more").hidden = data.screenings.length < 200;
  }

  async function openSnapshot(id) {
    const s = await api(`/api/screenings/${id}`);
    $("#sd-title").textContent = `${gateName(s.gate)} · ${s.time_local} · ${t("dec_" + s.decision)}`;
    drawSnapshot($("#sd-canvas"), $("#sd-scale"), s.snapshot, null, s.face_c, s.estimate_c);
    const facts = $("#sd-facts");
    facts.textContent = "";
    const add = (k, v) => { facts.append(el("dt", null, t(k)), el("dd", null, v)); };
    add("col_estimate", fmtC(s.estimate_c));
    if (s.face_c !== null && s.face_c !== undefined) add("col_face", fmtC(s.face_c));
    if (s.reason) add("col_reason", t("reason_" + s.reason));
    if (s.distance_m) add("col_distance", `${s.distance_m.toFixed(2)} m`);
    if (s.reduced_accuracy) add("col_accuracy", t("reduced_accuracy"));
    $("#snap-dialog").showModal();
  }

  async function loadAlarms() {
    const form = $("#alarm-form");
    $("#alarm-csv").href = "/api/alarms.csv?" + query(form);
    const data = await api("/api/alarms?" + query(form));
    const tbody = $("#alarm-table tbody");
    tbody.textContent = "";
    data.alarms.forEach((a) => {
      const tr = row(tbody, [a.time_local, gateName(a.gate), fmtC(a.estimate_c), t("status_" + a.status), fmtC(a.recheck_c),
        a.outcome ? t("outcome_" + a.outcome) : "", a.disposed_by || a.acknowledged_by || "", a.note || ""]);
      tr.classList.add("clickable");
      tr.addEventListener("click", () => openAlarmDialog(a.id));
    });
  }

  async function loadDoors() {
    const data = await api("/api/doors");
    const tbody = $("#door-table tbody");
    tbody.textContent = "";
    data.actions.filter((a) => a.cause === "manual" || a.action === "open").forEach((a) => {
      row(tbody, [a.time_local, gateName(a.gate), t("act_" + a.action), a.user || t("by_controller"), a.reason || "",
        a.ack_ok === null ? "…" : a.ack_ok ? t("ack_ok") : `${t("ack_refused")} ${a.ack_reason || ""}`]);
    });
  }

  async function loadAudit() {
    if (!can("admin")) return;
    const data = await api("/api/audit");
    const tbody = $("#audit-table tbody");
    tbody.textContent = "";
    data.audit.forEach((e) => {
      const tr = row(tbody, [e.time_local, e.user || "", t("audit_" + e.action), Object.entries(e.detail)
        .map(([k, v]) => `${k}: ${v}`).join(", ")]);
      tr.dataset.action = e.action;
    });
  }

  $("#hist-form").addEventListener("submit", (e) => { e.preventDefault(); loadScreenings(false).catch(showErr); });
  $("#hist-more").addEventListener("click", () => loadScreenings(true).catch(showErr));
  $("#alarm-form").addEventListener("submit", (e) => { e.preventDefault(); loadAlarms().catch(showErr); });

  // ------------------------------------------------------------------ today

  async function loadToday() {
    const date = $("#today-date").value;
    $("#report-link").href = "/report?date=" + encodeURIComponent(date);
    const r = await api("/api/report?date=" + encodeURIComponent(date));
    $("#today-verdict").textContent = r.verdict[LANG === "zh" ? "zh" : "en"];
    $("#today-verdict").classList.toggle("zero", r.zero_report);
    const tbody = $("#today-table tbody");
    tbody.textContent = "";
    r.gates.concat([r.total]).forEach((g) => {
      const tr = row(tbody, [g.gate === "ALL" ? t("rep_total") : g.name || gateName(g.gate), g.screened, g.passed, g.fevers, g.retried,
        g.blocked, g.alarms, g.confirmed_fevers, g.open_alarms]);
      if (g.gate === "ALL") tr.className = "total";
    });
    $("#today-dispositions").textContent = `${t("rep_dispositions")}: ` + Object.entries(r.total.dispositions)
      .map(([o, n]) => `${t("outcome_" + o)} ${n}`).join(" · ");
  }
  $("#today-form").addEventListener("submit", (e) => { e.preventDefault(); loadToday().catch(showErr); });

  // ------------------------------------------------------------------ settings

  async function loadSettings() {
    if (!can("admin")) return;
    const s = await api("/api/settings");
    $("#threshold-form").threshold_c.value = s.threshold_c.toFixed(1);
    $("#retention-form").retention_days.value = s.retention_days;
    const gt = $("#gates-table tbody");
    gt.textContent = "";
    s.gates.forEach((g) => row(gt, [g.id, g.name || g.id, g.location, g.variant + "°"]));
    const ut = $("#users-table tbody");
    ut.textContent = "";
    s.users.forEach((u) => {
      const role = el("select", { class: "role-select" });
      ["guard", "doctor", "admin"].forEach((r) => role.append(el("option", { value: r }, t("role_" + r))));
      role.value = u.role;
      role.addEventListener("change", () => userAction(`/api/users/${encodeURIComponent(u.name)}/role`, { role: role.value }));
      const actions = el("span");
      const pw = el("button", { type: "button" }, t("user_passwd"));
      pw.addEventListener("click", () => {
        const p = prompt(t("user_new_password", { name: u.name }));
        if (!p) return;
        // The change needs the password of whoever makes it (yours, also for another user's).
        const current = prompt(t("user_current_password"));
        if (current) userAction(`/api/users/${encodeURIComponent(u.name)}/password`,
                                { password: p, current_password: current });
      });
      const rm = el("button", { type: "button", class: "danger" }, t("user_remove"));
      rm.addEventListener("click", () => {
        if (confirm(t("user_remove_confirm", { name: u.name }))) userAction(`/api/users/${encodeURIComponent(u.name)}/remove`, {});
      });
      actions.append(pw, rm);
      const tr = row(ut, [u.name, role, actions]);
      tr.dataset.user = u.name;
    });
  }

  async function userAction(path, body) {
    const msg = $("#settings-msg");
    try { await api(path, { body }); msg.textContent = t("saved"); msg.className = "msg ok"; }
    catch (err) { msg.textContent = err.message; msg.className = "msg bad"; }
    loadSettings().catch(showErr);
  }

  $("#threshold-form").addEventListener("submit", (e) => {
    e.preventDefault();
    userAction("/api/settings", { threshold_c: Number(e.target.threshold_c.value) });
  });
  $("#retention-form").addEventListener("submit", (e) => {
    e.preventDefault();
    userAction("/api/settings", { retention_days: Number(e.target.retention_days.value) });
  });
  $("#user-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const f = e.target;
    userAction("/api/users", { name: f.name.value.trim(), role: f.role.value, password: f.password.value });
    f.reset();
  });

  // ------------------------------------------------------------------ navigation and start

  function showErr(err) { console.error(err); }

  // Views kept in their own files register here (people.js: people, visitors), with the permission they need.
  const VIEWS = {};
  Object.assign(TG, { row, can, showErr, me: () => ME, views: VIEWS });

  function show(view) {
    if (!["live", "history", "today", "settings"].includes(view) && !VIEWS[view]) view = "live";
    if (view === "settings" && !can("admin")) view = "live";
    if (VIEWS[view] && !can(VIEWS[view].need)) view = "live";
    $$(".view").forEach((v) => { v.hidden = v.id !== "view-" + view; });
    $$("#nav a").forEach((a) => a.classList.toggle("active", a.dataset.view === view));
    fillGateSelects();
    if (view === "history") {
      loadScreenings(false).catch(showErr); loadAlarms().catch(showErr); loadDoors().catch(showErr); loadAudit().catch(showErr);
    } else if (view === "today") loadToday().catch(showErr);
    else if (view === "settings") loadSettings().catch(showErr);
    else if (VIEWS[view]) VIEWS[view].load().catch(showErr);
  }

  $$("dialog [data-close]").forEach((b) => b.addEventListener("click", () => b.closest("dialog").close()));
  $("#lang").addEventListener("change", (e) => {
    document.cookie = `tg_lang=${e.target.value}; path=/; max-age=31536000; SameSite=Strict`;
    location.reload();
  });
  $("#logout").addEventListener("click", async () => {
    try { await api("/logout", { method: "POST" }); } catch (err) { /* gone already */ }
    location.href = "/login";
  });
  window.addEventListener("hashchange", () => show(location.hash.slice(1)));

  async function start() {
    await TG.loadMessages();
    translatePage();
    ME = await api("/api/me");
    serverOffset = ME.now - Date.now() / 1000;
    $("#who").textContent = `${ME.user} (${t("role_" + ME.role)})`;
    $$("[data-need]").forEach((e) => { e.hidden = !can(e.dataset.need); });
    const today = new Date(Date.now() + serverOffset * 1000);
    $("#today-date").value = today.toLocaleDateString("sv-SE", { timeZone: ME.timezone });
    $("#wall-empty").hidden = false;
    try { (await api("/api/gates")).gates.forEach(updateSummary); } catch (err) { /* the socket's hello brings them */ }
    setConn(false);
    show(location.hash.slice(1));
    connect();
    requestAnimationFrame(frameLoop);
    if (navigator.userActivation && !navigator.userActivation.hasBeenActive) $("#sound-lock").hidden = false;
  }
  start().catch((err) => { console.error(err); document.body.append(el("p", { class: "msg bad" }, String(err))); });
})();
