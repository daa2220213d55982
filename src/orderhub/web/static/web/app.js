/* OrderHub page helpers: live deadline countdowns, repeatable line rows, auto-submitting selects,
   progress bars. No framework, nothing inline: every page runs under script-src 'self'. */
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
  // Progress bars carry their width as data (no inline style: the page's CSP allows none).
  function progress(root) {
    var bars = Array.prototype.slice.call(root.querySelectorAll("[data-percent]"));
    if (root.matches && root.matches("[data-percent]")) bars.push(root);
    bars.forEach(function (el) {
      var pct = Math.max(0, Math.min(100, parseInt(el.dataset.percent, 10) || 0));
      el.style.width = pct + "%";
    });
  }
  document.addEventListener("click", function (e) {
    var btn = e.target.closest("[data-add-line]");
    if (btn) { e.preventDefault(); addLine(btn); }
    var rm = e.target.closest("[data-remove-line]");
    if (rm) { e.preventDefault(); var tr = rm.closest("tr"); if (tr.parentNode.children.length > 1) tr.remove(); }
  });
  // <select data-autosubmit>: choosing a value submits its form.
  document.addEventListener("change", function (e) {
    if (e.target.matches("[data-autosubmit]") && e.target.form) e.target.form.submit();
  });
  // <form data-fill-action="event channel">: the action's EVENT and CHANNEL become the values chosen.
  document.addEventListener("submit", function (e) {
    var form = e.target.closest("form[data-fill-action]");
    if (!form) return;
    if (!form.dataset.actionTemplate) form.dataset.actionTemplate = form.getAttribute("action");
    var action = form.dataset.actionTemplate;
    form.dataset.fillAction.split(/\s+/).forEach(function (name) {
      var field = form.elements[name];
      if (field) action = action.replace(name.toUpperCase(), encodeURIComponent(field.value));
    });
    form.setAttribute("action", action);
  });
  // Board bulk moves: the ticked cards survive the board's polling (a poll replaces the
  // columns that changed); after a move the ticks are cleared.
  var ticked = new Set();
  function showTicked() {
    var count = document.getElementById("bulk-count");
    if (count) count.textContent = String(ticked.size);
  }
  function reTick(root) {
    root.querySelectorAll(".bulk-check").forEach(function (box) { box.checked = ticked.has(box.value); });
  }
  document.addEventListener("change", function (e) {
    if (!e.target.matches(".bulk-check")) return;
    if (e.target.checked) ticked.add(e.target.value); else ticked.delete(e.target.value);
    showTicked();
  });
  document.addEventListener("htmx:afterSwap", function (e) {
    if (e.detail.target && e.detail.target.id === "board") reTick(e.detail.target);
  });
  // A board poll swaps only the columns that changed, out of band (see web/views/board.py).
  document.addEventListener("htmx:oobAfterSwap", function () { reTick(document); tick(); });
  document.addEventListener("htmx:afterRequest", function (e) {
    if (e.detail.elt && e.detail.elt.id === "bulk-move" && e.detail.successful) {
      ticked.clear();
      showTicked();
      reTick(document);
    }
  });
  document.addEventListener("DOMContentLoaded", function () { tick(); progress(document); });
  document.addEventListener("htmx:afterSwap", tick);
  document.addEventListener("htmx:load", function (e) { progress(e.detail.elt); });
  setInterval(tick, 30000);
})();
