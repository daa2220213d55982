/* OrderHub page helpers: live deadline countdowns and repeatable line rows. No framework. */
(function () {
  "use strict";
  function span(seconds, body) {
    var mins = Math.floor(Math.abs(seconds) / 60);
    var d = Math.floor(mins / 1440), h = Math.floor((mins % 1440) / 60), m = mins % 60;
    var u = body.dataset;
    if (d) return d + u.unitD + " " + h + u.unitH;
    if (h) return h + u.unitH + " " + m + u.unitM;
    return m + u.unitM;
  }
  function tick() {
    var body = document.body, now = Date.now();
    document.querySelectorAll(".countdown[data-due]").forEach(function (el) {
      if (!el.dataset.due) return;
      var s = (Date.parse(el.dataset.due) - now) / 1000;
      var fmt = s < 0 ? body.dataset.fmtOver : body.dataset.fmtLeft;
      el.textContent = fmt.replace("{t}", span(s, body));
      el.classList.toggle("text-danger", s < 0);
      el.classList.toggle("fw-bold", s < 0);
    });
  }
  function addLine(btn) {
    var table = document.getElementById(btn.dataset.target);
    var tpl = document.getElementById(btn.dataset.template);
    table.querySelector("tbody").appendChild(tpl.content.cloneNode(true));
  }
  document.addEventListener("click", function (e) {
    var btn = e.target.closest("[data-add-line]");
    if (btn) { e.preventDefault(); addLine(btn); }
    var rm = e.target.closest("[data-remove-line]");
    if (rm) { e.preventDefault(); var tr = rm.closest("tr"); if (tr.parentNode.children.length > 1) tr.remove(); }
  });
  document.addEventListener("DOMContentLoaded", tick);
  document.addEventListener("htmx:afterSwap", tick);
  setInterval(tick, 30000);
})();
