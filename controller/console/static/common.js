// thermogate console: the helpers every page shares, loaded before the page's own script (index.html: app.js
// and people.js; cases.html: cases.js; reports.html: reports.js). t() words a key from the message catalogue,
// el() builds an element, api() calls the controller's JSON API with the session's CSRF token, $() and $$()
// find elements, fmtC() shows a temperature. They are on window.thermogate, which app.js extends with its own
// helpers for people.js. Plain JavaScript, no build step.
"use strict";

(function () {
  // The page's language: the tg_lang cookie the language switch sets, else Chinese.
  const LANG = (document.cookie.match(/(?:^|; )tg_lang=(zh|en)/) || [null, "zh"])[1];
  let MSG = {};
  let signedIn = () => null; // the page's GET /api/me answer, once it has one (its csrf token)

  // The catalogue in the page's language (messages.json holds both); until it is loaded, t() gives the key.
  async function loadMessages() {
    MSG = (await (await fetch("/static/messages.json", { credentials: "same-origin" })).json())[LANG];
    return MSG;
  }

  const has = (key) => MSG[key] !== undefined;

  // $(selector[, root]) the first match, $$(selector[, root]) all of them as an array.
  const $ = (sel, root) => (root || document).querySelector(sel);
  const $$ = (sel, root) => Array.from((root || document).querySelectorAll(sel));

  // A temperature as the pages show it: one decimal and the unit, a dash for none.
  const fmtC = (v) => (v === null || v === undefined ? "—" : `${Number(v).toFixed(1)} °C`);

  // A key's text with its {placeholders} filled from values; an unknown key is shown as itself.
  function t(key, values) {
    let s = MSG[key];
    if (s === undefined) s = key;
    if (values) s = s.replace(/\{(\w+)\}/g, (m, k) => (k in values ? values[k] : m));
    return s;
  }

  // el(tag, attrs, ...children). attrs: "class", "dataset" (an object), "text" (the text content), any other
  // key an attribute; null, undefined and false leave it out, true sets it bare (disabled, required). The
  // children (arrays are flattened, null and undefined skipped) are nodes, or strings and numbers appended as
  // text. Nothing is parsed as HTML, so names, notes and other user data go in as they come.
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => {
      if (v === null || v === undefined || v === false) return;
      if (k === "dataset") Object.assign(e.dataset, v);
      else if (k === "class") e.className = v;
      else if (k === "text") e.textContent = v;
      else e.setAttribute(k, v === true ? "" : v);
    });
    children.flat().forEach((c) => { if (c !== null && c !== undefined) e.append(c); });
    return e;
  }

  // api(path) GETs; api(path, { body }) POSTs body as JSON; options.method names another verb (POST /logout
  // has no body). { raw, type } POSTs raw (a file's bytes) as it is, with Content-Type type; { blob: true }
  // answers with the response's Blob (a CSV to save) instead of its JSON. Every verb but GET carries the
  // session's X-CSRF-Token. A 401 goes to the login page; a refusal throws an Error in the page's words (the
  // answer's error key, and its detail), with .key that key and .detail that detail.
  async function api(path, options) {
    const { raw, type, blob, ...rest } = options || {};
    const opts = Object.assign({ credentials: "same-origin" }, rest);
    opts.headers = Object.assign({}, rest.headers);
    if (opts.body !== undefined) {
      opts.method = opts.method || "POST";
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(opts.body);
    } else if (raw !== undefined) {
      opts.method = opts.method || "POST";
      opts.headers["Content-Type"] = type || "application/octet-stream";
      opts.body = raw;
    }
    const me = signedIn();
    if (opts.method && opts.method !== "GET" && me) opts.headers["X-CSRF-Token"] = me.csrf;
    const r = await fetch(path, opts);
    if (r.status === 401) { location.href = "/login"; throw new Error(t("err_login_required")); }
    if (r.ok && blob) return r.blob();
    const data = r.status === 204 ? {} : await r.json().catch(() => ({}));
    if (!r.ok) {
      const err = new Error(t(data.error || "err_server") + (data.detail ? ` (${data.detail})` : ""));
      err.key = data.error;
      err.detail = data.detail;
      throw err;
    }
    return data;
  }

  // The page tells api() who is signed in: a function giving its current /api/me answer (or null).
  const session = (current) => { signedIn = current; };

  window.thermogate = { lang: LANG, t, has, el, api, loadMessages, session, $, $$, fmtC };
})();
