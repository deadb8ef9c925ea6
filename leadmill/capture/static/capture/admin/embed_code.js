/* The form editor's "Copy the embed code" button (capture/admin_embed.py). */
(function () {
  "use strict";
  document.querySelectorAll("[data-lm-copy]").forEach(function (button) {
    if (button.dataset.lmCopyReady) { return; }
    button.dataset.lmCopyReady = "1";
    button.addEventListener("click", function () {
      var code = document.getElementById(button.dataset.lmCopy).textContent;
      var status = button.parentNode.querySelector("[role=status]");
      function done() { if (status) { status.textContent = button.dataset.lmCopied; } }
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(code).then(done, function () { select(button.dataset.lmCopy); });
      } else {
        select(button.dataset.lmCopy);
        if (document.execCommand && document.execCommand("copy")) { done(); }
      }
    });
  });

  function select(id) {
    var range = document.createRange();
    range.selectNodeContents(document.getElementById(id));
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }
}());
