// The live size of a segment while its rules are edited: asks the server (a COUNT under a
// statement timeout) a moment after the last keystroke; "unavailable" when it timed out.
(function () {
  "use strict";
  function wire(output) {
    var form = output.closest("form");
    var textarea = output.previousElementSibling;
    while (textarea && textarea.tagName !== "TEXTAREA") textarea = textarea.previousElementSibling;
    if (!form || !textarea) return;
    var partner = form.querySelector("[name=partner]");
    var timer = null;
    function update() {
      var url = output.dataset.url + "?rules=" + encodeURIComponent(textarea.value) +
        "&partner=" + encodeURIComponent(partner ? partner.value : "");
      fetch(url, { credentials: "same-origin" })
        .then(function (r) { return r.json(); })
        .then(function (data) {
          if (data.errors) { output.textContent = data.errors.join(" · "); return; }
          output.textContent = output.dataset.prefix + " " + data.label;
        })
        .catch(function () { output.textContent = output.dataset.prefix + " ?"; });
    }
    output.dataset.prefix = output.textContent.split(":")[0] + ":";
    function later() { clearTimeout(timer); timer = setTimeout(update, 400); }
    textarea.addEventListener("input", later);
    if (partner) partner.addEventListener("change", later);
    update();
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-segment-size]").forEach(wire);
  });
})();
