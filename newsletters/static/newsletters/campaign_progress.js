// The live progress of a campaign: polls its JSON every two seconds while it is sending.
(function () {
  "use strict";
  function render(root, data) {
    root.querySelectorAll("[data-count]").forEach(function (el) {
      var key = el.dataset.count;
      el.textContent = key === "held" ? data.held : (data.by_status[key] || 0);
    });
    root.querySelectorAll("[data-bar]").forEach(function (el) {
      el.style.width = (data.percent[el.dataset.bar] || 0) + "%";
    });
    var total = root.querySelector("[data-total]");
    if (total) total.textContent = data.total;
    var done = root.querySelector("[data-done]");
    if (done) done.textContent = data.percent_done + "%";
    var status = document.querySelector("[data-campaign-status]");
    if (status) status.textContent = data.campaign_status_label;
    var reasons = root.querySelector("[data-skipped]");
    if (reasons) {
      reasons.textContent = "";
      data.skipped.forEach(function (item) {
        var li = document.createElement("li");
        li.textContent = item.label + ": " + item.count;
        reasons.appendChild(li);
      });
    }
    return data.campaign_status === "sending";
  }
  function poll(root) {
    fetch(root.dataset.url, { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (data) { if (render(root, data)) setTimeout(function () { poll(root); }, 2000); })
      .catch(function () { setTimeout(function () { poll(root); }, 5000); });
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-campaign-progress]").forEach(poll);
  });
})();
