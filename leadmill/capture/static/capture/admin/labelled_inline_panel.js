/* The form editor's fields headed by their labels (capture/admin_form_builder.py): the
   heading follows the label typed, else the kind chosen. */
(function () {
  "use strict";
  function refresh(child) {
    var heading = child.querySelector("[data-labelled-child-heading]");
    if (!heading) { return; }
    var label = child.querySelector("input[name$='-label']");
    var kind = child.querySelector("select[name$='-kind']");
    var text = label ? label.value.trim() : "";
    if (!text && kind && kind.value) { text = kind.options[kind.selectedIndex].text; }
    if (text) { heading.textContent = text; }
  }
  function edited(event) {
    var child = event.target.closest ? event.target.closest("[data-inline-panel-child]") : null;
    if (child) { refresh(child); }
  }
  document.addEventListener("change", edited);
  document.addEventListener("input", edited);
}());
