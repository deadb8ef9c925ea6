/*! Leadmill form embed, and the script of Leadmill's own forms.
 * <div data-leadmill-form="SLUG"></div>
 * <script src="https://LEADMILL/static/capture/embed.js" async></script>
 * Loads the form from the Leadmill server this script came from, posts it as JSON with the
 * page address and its utm_* parameters, and shows the errors or the thank-you message.
 * The Leadmill form must list this site under "allowed origins".
 * On every form (embedded or on a Leadmill page), when a person first touches it, fetches a
 * fresh render token and a proof-of-work challenge and solves it with Web Crypto (SHA-256)
 * while they type, so a quick person's post is accepted (capture/proof.py). */
(function () {
  "use strict";
  var script = document.currentScript || document.querySelector('script[src*="capture/embed"]');
  if (!script) { return; }
  var origin = new URL(script.src, location.href).origin;
  var UTM = ["utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content"];

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) { node.setAttribute(key, attrs[key]); });
    if (text) { node.textContent = text; }
    return node;
  }

  function clearErrors(form) {
    form.querySelectorAll(".lm-error, .lm-summary").forEach(function (node) { node.remove(); });
    form.querySelectorAll("[aria-invalid]").forEach(function (input) {
      input.removeAttribute("aria-invalid");
      var described = (input.getAttribute("aria-describedby") || "").split(" ").filter(function (id) {
        return id && id !== input.id + "_error";
      });
      if (described.length) { input.setAttribute("aria-describedby", described.join(" ")); }
      else { input.removeAttribute("aria-describedby"); }
    });
  }

  function showErrors(form, errors, message) {
    clearErrors(form);
    var summary = el("div", { "class": "lm-summary", role: "alert", tabindex: "-1" });
    summary.appendChild(el("h2", {}, form.dataset.lmSummary || message));
    var list = el("ul");
    Object.keys(errors || {}).forEach(function (name) {
      var input = form.elements.namedItem(name);
      var messages = [].concat(errors[name]);
      if (input && input.id) {
        var own = el("ul", { "class": "lm-error", id: input.id + "_error" });
        messages.forEach(function (text) { own.appendChild(el("li", {}, text)); });
        var holder = input.closest(".lm-field, .lm-consent") || input;
        holder.insertAdjacentElement("afterend", own);
        input.setAttribute("aria-invalid", "true");
        var described = input.getAttribute("aria-describedby");
        input.setAttribute("aria-describedby", (described ? described + " " : "") + own.id);
        var label = form.querySelector('label[for="' + input.id + '"]');
        messages.forEach(function (text) {
          var item = el("li");
          item.appendChild(el("a", { href: "#" + input.id }, (label ? label.textContent.replace(/\s*[*(].*$/, "") + ": " : "") + text));
          list.appendChild(item);
        });
      } else {
        messages.forEach(function (text) { list.appendChild(el("li", {}, text)); });
      }
    });
    if (!list.children.length && message) { list.appendChild(el("li", {}, message)); }
    summary.appendChild(list);
    form.insertBefore(summary, form.firstChild);
    summary.focus();
  }

  function showSuccess(form, answer) {
    var box = el("div", { "class": "lm-thanks", role: "status", tabindex: "-1" });
    box.appendChild(el("p", {}, answer.message || ""));
    if (answer.download_url) {
      box.appendChild(el("p")).appendChild(el("a", { "class": "lm-button", href: answer.download_url }, form.dataset.lmDownload));
    }
    if (answer.discount_code) {
      var code = box.appendChild(el("p", {}, (form.dataset.lmCode || "") + " "));
      code.appendChild(el("strong", { "class": "lm-code" }, answer.discount_code));
    }
    form.replaceWith(box);
    box.focus();
  }

  function payload(form) {
    var data = {};
    new FormData(form).forEach(function (value, key) { data[key] = value; });
    var query = new URLSearchParams(location.search);
    UTM.forEach(function (key) { if (query.get(key)) { data[key] = query.get(key); } });
    data._url = location.href;
    if (document.referrer) { data._referrer = document.referrer; }
    return data;
  }

  function hex(buffer) {
    return Array.prototype.map.call(new Uint8Array(buffer), function (byte) {
      return ("0" + byte.toString(16)).slice(-2);
    }).join("");
  }

  // ALTCHA (v1): the number n in 0..maxNumber for which SHA-256(salt + n) is the challenge.
  function solve(challenge) {
    var encoder = new TextEncoder();
    var BATCH = 64;
    function from(start) {
      if (start > challenge.maxNumber) { return Promise.resolve(""); }
      var tries = [];
      for (var n = start; n < start + BATCH && n <= challenge.maxNumber; n += 1) {
        tries.push(crypto.subtle.digest("SHA-256", encoder.encode(challenge.salt + n)));
      }
      return Promise.all(tries).then(function (digests) {
        for (var i = 0; i < digests.length; i += 1) {
          if (hex(digests[i]) === challenge.challenge) {
            return btoa(JSON.stringify({
              algorithm: challenge.algorithm, challenge: challenge.challenge, number: start + i,
              salt: challenge.salt, signature: challenge.signature
            }));
          }
        }
        return from(start + BATCH);
      });
    }
    return from(0);
  }

  function hidden(form, name) {
    var input = form.elements.namedItem(name);
    if (!input) { input = form.appendChild(el("input", { type: "hidden", name: name })); }
    return input;
  }

  function wait(ms) { return new Promise(function (resolve) { setTimeout(resolve, ms); }); }

  // Resolves when the form may be sent: with a fresh token and a solved proof; without Web
  // Crypto, once the minimum fill time has passed; on a network error, at once.
  function started(form) {
    if (form.lmStarted) { return form.lmStarted; }
    var token = form.elements.namedItem("_rt");
    var url = new URL("start/", form.action);
    url.searchParams.set("rt", token ? token.value : "");
    form.lmStarted = fetch(url.href, { credentials: "omit" }).then(function (response) {
      if (!response.ok) { throw new Error("Leadmill form: HTTP " + response.status); }
      return response.json();
    }).then(function (answer) {
      var since = Date.now();
      hidden(form, "_rt").value = answer.render_token;
      if (!(window.crypto && crypto.subtle)) { return wait(answer.min_seconds * 1000 + since - Date.now()); }
      return solve(answer.challenge).then(function (proof) { hidden(form, "_altcha").value = proof; });
    }).catch(function (error) { if (window.console) { console.error(error); } });
    return form.lmStarted;
  }

  function prepare(form) {
    if (form.lmPrepared) { return; }
    form.lmPrepared = true;
    var start = function () { started(form); };
    form.addEventListener("focusin", start, { once: true });
    form.addEventListener("input", start, { once: true });
  }

  // A form of a Leadmill page posts itself (HTML), once the proof is ready.
  function submitWhenReady(event) {
    var form = event.target;
    if (form.lmReady) { return; }
    event.preventDefault();
    started(form).then(function () {
      form.lmReady = true;
      HTMLFormElement.prototype.submit.call(form);
    });
  }

  function submit(event) {
    var form = event.target;
    event.preventDefault();
    if (form.lmSending) { return; }
    form.lmSending = true;
    started(form).then(function () { send(form); });
  }

  function send(form) {
    var button = form.querySelector('[type="submit"]');
    var label = button && button.textContent;
    if (button) { button.disabled = true; button.textContent = form.dataset.lmSending || label; }
    form.setAttribute("aria-busy", "true");
    fetch(form.action, {
      method: "POST",
      mode: "cors",
      credentials: "omit",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(payload(form))
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (answer) {
        if (response.status === 201) { showSuccess(form, answer); }
        else { showErrors(form, answer.errors, answer.message || form.dataset.lmFailed); }
      });
    }).catch(function () {
      showErrors(form, null, form.dataset.lmFailed);
    }).then(function () {
      form.removeAttribute("aria-busy");
      form.lmSending = false;
      if (button) { button.disabled = false; button.textContent = label; }
    });
  }

  function mount(holder) {
    if (holder.dataset.leadmillMounted) { return; }
    holder.dataset.leadmillMounted = "1";
    var slug = holder.getAttribute("data-leadmill-form");
    fetch(origin + "/f/" + encodeURIComponent(slug) + "/embed/?format=json", { credentials: "omit" })
      .then(function (response) {
        if (response.status === 403) {
          // This site is not in the form's allowed origins: say so to the site's owner.
          return response.json().then(function (answer) {
            if (window.console) { console.error(answer.message); }
            return null;
          });
        }
        if (!response.ok) { throw new Error("Leadmill form " + slug + ": HTTP " + response.status); }
        return response.json();
      })
      .then(function (answer) {
        if (!answer) { return; }
        holder.innerHTML = answer.html;
        var form = holder.querySelector("form");
        form.action = answer.action;
        prepare(form);
        form.addEventListener("submit", submit);
      })
      .catch(function (error) { if (window.console) { console.error(error); } });
  }

  function start() {
    var holders = document.querySelectorAll("[data-leadmill-form]");
    // Only another site's page needs the form's styles; Leadmill's own pages have their
    // stylesheet, and their Content-Security-Policy refuses an inline <style>.
    if (holders.length && !document.getElementById("leadmill-embed-style")) {
      var style = el("style", { id: "leadmill-embed-style" });
      style.textContent = ".lm-form .lm-field{margin:0 0 1em}.lm-form label{display:block;font-weight:600}" +
        ".lm-form input:not([type=checkbox]),.lm-form textarea{box-sizing:border-box;width:100%;padding:.5em;font:inherit}" +
        ".lm-form .lm-consent{display:flex;gap:.5em;margin:0 0 .75em}.lm-form .lm-consent label{font-weight:400}" +
        ".lm-form .lm-consents{border:0;padding:0;margin:0 0 1em}.lm-form .lm-sr{position:absolute;left:-10000px}" +
        ".lm-form .lm-error{color:#b3261e;list-style:none;padding:0;margin:.25em 0 0}.lm-form [aria-invalid=true]{border:2px solid #b3261e}" +
        ".lm-form .lm-summary{border:2px solid #b3261e;padding:.5em 1em;margin:0 0 1em}.lm-form .lm-summary h2{font-size:1em;margin:0}" +
        ".lm-form .lm-help,.lm-form .lm-fineprint,.lm-form .lm-optional{font-size:.875em;opacity:.8}";
      document.head.appendChild(style);
    }
    holders.forEach(mount);
    document.querySelectorAll("form[data-leadmill-post]").forEach(function (form) {
      if (form.closest("[data-leadmill-form]") || form.lmPrepared) { return; }
      prepare(form);
      form.addEventListener("submit", submitWhenReady);
    });
  }

  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); }
  else { start(); }
}());
