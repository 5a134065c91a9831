// Partner portal: keyboard navigation of the search results and small htmx helpers.
(function () {
  "use strict";

  function options(box) {
    return Array.prototype.slice.call(box.querySelectorAll(".results a.result"));
  }

  function move(input, box, step) {
    var links = options(box);
    if (!links.length) return;
    var current = links.indexOf(document.activeElement);
    var next = current + step;
    if (next < 0) { input.focus(); return; }
    if (next >= links.length) next = links.length - 1;
    links[next].focus();
  }

  document.addEventListener("keydown", function (event) {
    var input = document.getElementById("guest-search");
    var box = document.getElementById("search-results");
    if (!input || !box) return;
    var inResults = box.contains(document.activeElement);
    if (document.activeElement !== input && !inResults) return;
    if (event.key === "ArrowDown") { event.preventDefault(); move(input, box, 1); }
    else if (event.key === "ArrowUp") { event.preventDefault(); move(input, box, -1); }
    else if (event.key === "Escape" && inResults) { input.focus(); }
    else if (event.key === "Enter" && document.activeElement === input) {
      // Enter on the search box opens the first result, but only of results that answer what
      // is typed now: while a request is pending the list still shows the previous query's, and
      // Enter then submits the form (the full-page search for the current text).
      var list = box.querySelector(".results[data-query]");
      var first = options(box)[0];
      if (first && list && list.getAttribute("data-query") === input.value.trim()) {
        event.preventDefault();
        first.click();
      }
    }
  });

  // The interaction form resets itself after a successful htmx post.
  document.addEventListener("htmx:afterRequest", function (event) {
    var form = event.target;
    if (form && form.matches && form.matches("form[data-reset-on-success]") && event.detail.successful) {
      form.reset();
      var first = form.querySelector("textarea, input:not([type=hidden])");
      if (first) first.focus();
    }
  });

  // In place of inline handlers, which the Content-Security-Policy refuses: a select marked
  // data-autosubmit submits its form; a form with data-confirm asks before it is sent.
  document.addEventListener("change", function (event) {
    var el = event.target;
    if (el && el.matches && el.matches("select[data-autosubmit]") && el.form) el.form.submit();
  });
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form && form.matches && form.matches("form[data-confirm]") &&
        !window.confirm(form.getAttribute("data-confirm"))) {
      event.preventDefault();
    }
  }, true);
})();
