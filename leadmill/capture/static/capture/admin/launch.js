// "New landing page": show only the fields of the offer kind that is chosen.
(function () {
  "use strict";
  var form = document.querySelector("[data-launch-form]");
  if (!form) { return; }
  function show() {
    var checked = form.querySelector("input[name='kind']:checked");
    var kind = checked ? checked.value : "";
    form.querySelectorAll("[data-kind-only]").forEach(function (part) {
      part.hidden = part.getAttribute("data-kind-only") !== kind;
    });
  }
  form.addEventListener("change", function (event) {
    if (event.target.name === "kind") { show(); }
  });
  show();
})();
