/* Leadmill's own consent banner: shown on Leadmill's pages while the tracker waits for
 * consent (LEADMILL_TRACKING_REQUIRE_CONSENT) and the visitor has not answered yet. The
 * answer goes to the tracker (leadmill('consent', true|false)), which keeps it in the
 * lm_consent cookie; until then the tracker stores nothing in the browser. */
(function (w, d) {
  "use strict";
  var banner = d.querySelector("[data-lm-consent-banner]");
  if (!banner || /(?:^|; )lm_consent=/.test(d.cookie)) return;
  w.leadmill = w.leadmill || function () { (w.leadmill.q = w.leadmill.q || []).push(arguments); };
  banner.hidden = false;
  banner.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("[data-lm-consent]") : null;
    if (!button) return;
    w.leadmill("consent", button.getAttribute("data-lm-consent") === "1");
    banner.hidden = true;
  });
})(window, document);
