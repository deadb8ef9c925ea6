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
  // The banner is fixed at the bottom of the window: room below the page's end, and a
  // scroll padding, so that nothing of the page (a form's checkbox, a field scrolled to)
  // stays under it.
  var root = d.documentElement, padding = d.body.style.paddingBottom, scrollPadding = root.style.scrollPaddingBottom;
  var room = banner.offsetHeight + 32 + "px";
  d.body.style.paddingBottom = room;
  root.style.scrollPaddingBottom = room;
  banner.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("[data-lm-consent]") : null;
    if (!button) return;
    w.leadmill("consent", button.getAttribute("data-lm-consent") === "1");
    banner.hidden = true;
    d.body.style.paddingBottom = padding;
    root.style.scrollPaddingBottom = scrollPadding;
  });
})(window, document);
