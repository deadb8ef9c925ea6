/*! Leadmill tracker: page views, CTA clicks, form view/start/field/submit, downloads, custom events.
 *
 * <script defer src="https://leads.example.com/t/lm.js"
 *         data-lm-endpoint="https://leads.example.com/t/collect"
 *         data-lm-require-consent="0"></script>
 *
 * Visitor id: a random id in the first-party cookie `lm_vid` of the site that runs this
 * script (Leadmill's own landing pages: the Leadmill domain; another site: that site),
 * kept 13 months. Forms tracked here get a hidden `_lm_vid` field, so a form posted to
 * Leadmill from another site still names its visitor. On another site, links to Leadmill
 * (a CTA's /c/<slug>/, a landing page) carry `?lm_vid=<id>` when followed; Leadmill's own
 * tracker adopts that id when its cookie holds none yet (then drops the parameter from the
 * address bar), so the visit before the click and the one after are one visitor.
 * With data-lm-require-consent="1" nothing is stored in the browser and events carry no
 * visitor id until the page calls leadmill('consent', true); leadmill('consent', false)
 * deletes the cookie again.
 *
 * API: leadmill('track', name, {props}); leadmill('consent', true|false); leadmill('flush').
 * Calls made before the script loaded are queued by the stub:
 *   window.leadmill = window.leadmill || function () { (leadmill.q = leadmill.q || []).push(arguments); };
 */
(function (w, d) {
  "use strict";
  if (w.leadmill && w.leadmill.loaded) return;
  var script = d.currentScript || d.querySelector("script[data-lm-endpoint]");
  var attr = function (name) { return script ? script.getAttribute(name) : null; };
  var endpoint = attr("data-lm-endpoint") || "/t/collect";
  var requireConsent = attr("data-lm-require-consent") === "1";
  var VID = "lm_vid", VID_PATTERN = /^[A-Za-z0-9_-]{16,64}$/, CONSENT = "lm_consent", YEAR = 34560000; // 400 days in seconds
  var MAX_BATCH = 20, DELAY = 2000;
  var queue = [], timer = null, seenForms = [], startedForms = [], fieldsSeen = [];

  function readCookie(name) {
    var m = d.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
    return m ? decodeURIComponent(m[1]) : "";
  }
  function writeCookie(name, value, maxAge) {
    d.cookie = name + "=" + encodeURIComponent(value) + "; Path=/; Max-Age=" + maxAge + "; SameSite=Lax" +
      (location.protocol === "https:" ? "; Secure" : "");
  }
  function newId() {
    var bytes = new Uint8Array(16), out = "", i;
    (w.crypto || w.msCrypto).getRandomValues(bytes);
    for (i = 0; i < bytes.length; i++) out += ("0" + bytes[i].toString(16)).slice(-2);
    return out;
  }
  var consent = !requireConsent || readCookie(CONSENT) === "1";
  var leadmillOrigin = "";
  try { leadmillOrigin = new URL(endpoint, location.href).origin; } catch (e) { /* old browser: no cross-site id */ }
  var params = w.URLSearchParams ? new URLSearchParams(location.search) : null;
  var handedId = params && params.get(VID);
  if (handedId !== null && w.history && history.replaceState) {
    // the id was handed over by a link from another site: keep it out of the address bar
    params["delete"](VID);
    var rest = params.toString();
    try { history.replaceState(history.state, "", location.pathname + (rest ? "?" + rest : "") + location.hash); } catch (e) { /* ignore */ }
  }
  function visitorId() {
    if (!consent) return "";
    var id = readCookie(VID);
    if (!VID_PATTERN.test(id)) id = VID_PATTERN.test(handedId || "") ? handedId : newId();
    writeCookie(VID, id, YEAR); // refreshed on every visit
    return id;
  }
  var vid = visitorId();

  function utm() {
    var out = {}, params = new URLSearchParams(location.search), keys = ["utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content"];
    for (var i = 0; i < keys.length; i++) {
      var v = params.get(keys[i]);
      if (v) out[keys[i]] = v.slice(0, 200);
    }
    return out;
  }

  function send(beacon) {
    if (timer) { clearTimeout(timer); timer = null; }
    while (queue.length) {
      var body = JSON.stringify(queue.splice(0, MAX_BATCH));
      try {
        if (beacon && navigator.sendBeacon && navigator.sendBeacon(endpoint, new Blob([body], { type: "text/plain" }))) continue;
        if (w.fetch) {
          fetch(endpoint, { method: "POST", body: body, keepalive: true, headers: { "Content-Type": "text/plain" } })["catch"](function () {});
        }
      } catch (e) { /* tracking never breaks the page */ }
    }
  }

  function track(type, name, props, extra) {
    var event = { type: type, url: location.href.slice(0, 2000), ts: Date.now(), consent: consent };
    if (name) event.name = String(name).slice(0, 200);
    if (props) {
      // an event the server would refuse must not take the rest of its batch down with it
      if (typeof props !== "object" || Array.isArray(props)) props = { value: props };
      try { event.properties = JSON.stringify(props).length > 4000 ? { truncated: true } : props; }
      catch (e) { event.properties = { truncated: true }; }
    }
    if (vid) event.visitor_id = vid;
    for (var k in extra || {}) event[k] = extra[k];
    queue.push(event);
    if (queue.length >= MAX_BATCH) send(false);
    else if (!timer) timer = setTimeout(function () { send(false); }, DELAY);
  }

  function formName(form) {
    var m = (form.getAttribute("action") || "").match(/\/f\/([^/?#]+)/);
    return form.getAttribute("data-leadmill-form") || (m ? m[1] : form.id || "");
  }
  function isTracked(form) {
    return form && form.tagName === "FORM" &&
      (form.hasAttribute("data-leadmill-form") || (form.getAttribute("action") || "").indexOf("/f/") !== -1);
  }
  function markVisitor(form) {
    if (!vid) return;
    var input = form.querySelector("input[name=_lm_vid]");
    if (!input) {
      input = d.createElement("input");
      input.type = "hidden";
      input.name = "_lm_vid";
      form.appendChild(input);
    }
    input.value = vid;
  }
  function scanForms() {
    var links = d.getElementsByTagName("a"), forms = d.getElementsByTagName("form");
    for (var j = 0; j < links.length; j++) carryVisitor(links[j]);
    for (var i = 0; i < forms.length; i++) {
      if (!isTracked(forms[i])) continue;
      markVisitor(forms[i]);
      if (seenForms.indexOf(forms[i]) === -1) {
        seenForms.push(forms[i]);
        track("form_view", formName(forms[i]));
      }
    }
  }

  function carryVisitor(link) {
    // a link to Leadmill from another site hands over the visitor id (see the header)
    if (!vid || !leadmillOrigin || leadmillOrigin === location.origin || !link.href) return;
    try {
      var url = new URL(link.href, location.href);
      if (url.origin !== leadmillOrigin || url.searchParams.get(VID) === vid) return;
      url.searchParams.set(VID, vid);
      link.href = url.href;
    } catch (e) { /* not a URL: leave it */ }
  }

  d.addEventListener("click", function (e) {
    var el = e.target && e.target.closest ? e.target.closest("[data-lm-cta],a[href]") : null;
    if (!el) return;
    if (el.tagName === "A") carryVisitor(el);
    var href = el.getAttribute("href") || "", path = el.pathname || "";
    var text = (el.textContent || "").replace(/\s+/g, " ").trim().slice(0, 100);
    if (el.hasAttribute("data-lm-cta") || path.indexOf("/c/") === 0) {
      track("cta_click", el.getAttribute("data-lm-cta") || path, { href: href.slice(0, 500), text: text });
    } else if (el.hasAttribute("download") || path.indexOf("/d/") === 0 || /\.(pdf|zip|docx?|xlsx?|pptx?|csv|epub)$/i.test(path)) {
      track("download", path.split("/").pop() || path, { href: href.slice(0, 500) });
    } else return;
    send(true); // the click may leave the page
  }, true);

  // Field events for the forms report: the field's name and whether it was entered or
  // filled in, once each per page view; never what was typed.
  function fieldEvent(e, action) {
    var el = e.target, form = el && el.form;
    if (!isTracked(form) || !el.name || el.type === "hidden" || el.name.charAt(0) === "_") return;
    if (action === "complete" && !(el.type === "checkbox" || el.type === "radio" ? el.checked : el.value)) return;
    var key = formName(form) + "\n" + el.name + "\n" + action;
    if (fieldsSeen.indexOf(key) !== -1) return;
    fieldsSeen.push(key);
    track("form_field", formName(form), { field: el.name.slice(0, 100), action: action });
  }

  d.addEventListener("focusin", function (e) {
    var form = e.target && e.target.form;
    if (isTracked(form) && startedForms.indexOf(form) === -1) {
      startedForms.push(form);
      track("form_start", formName(form));
    }
    fieldEvent(e, "focus");
  }, true);
  d.addEventListener("change", function (e) { fieldEvent(e, "complete"); }, true);

  d.addEventListener("submit", function (e) {
    if (!isTracked(e.target)) return;
    markVisitor(e.target);
    track("form_submit", formName(e.target));
    send(true);
  }, true);

  w.addEventListener("pagehide", function () { send(true); });
  d.addEventListener("visibilitychange", function () { if (d.visibilityState === "hidden") send(true); });

  function command(name, a, b) {
    if (name === "track") track("custom", a, b || null);
    else if (name === "flush") send(false);
    else if (name === "consent") {
      consent = a === true;
      if (consent) {
        writeCookie(CONSENT, "1", YEAR);
        vid = visitorId();
        scanForms();
      } else {
        writeCookie(VID, "", 0);
        writeCookie(CONSENT, "0", YEAR);
        vid = "";
      }
    }
  }

  var pending = (w.leadmill && w.leadmill.q) || [];
  w.leadmill = function () { command.apply(null, arguments); };
  w.leadmill.loaded = true;

  for (var i = 0; i < pending.length; i++) command.apply(null, pending[i]);
  track("page_view", "", { title: (d.title || "").slice(0, 200) }, { referrer: d.referrer.slice(0, 2000), utm: utm() });
  if (d.readyState === "loading") d.addEventListener("DOMContentLoaded", scanForms);
  else scanForms();
  if (w.MutationObserver) {
    var scheduled = false;
    new MutationObserver(function () {
      if (scheduled) return;
      scheduled = true;
      setTimeout(function () { scheduled = false; scanForms(); }, 300);
    }).observe(d.documentElement, { childList: true, subtree: true });
  }
})(window, document);
