/* Workflow and rule editors: a field picker (<select data-insert-into="ID">) puts the chosen
   name into the expression input at the cursor. No inline script: the page's CSP allows none. */
(function () {
  "use strict";
  document.addEventListener("change", function (e) {
    var picker = e.target.closest("select[data-insert-into]");
    if (!picker || !picker.value) return;
    var input = document.getElementById(picker.dataset.insertInto);
    if (!input) return;
    var name = picker.value, text = input.value;
    var start = typeof input.selectionStart === "number" ? input.selectionStart : text.length;
    var end = typeof input.selectionEnd === "number" ? input.selectionEnd : text.length;
    var before = text.slice(0, start), after = text.slice(end);
    var pad = before && !/\s$/.test(before) ? " " : "";
    input.value = before + pad + name + (after && !/^\s/.test(after) ? " " : "") + after;
    var at = (before + pad + name).length;
    input.focus();
    if (input.setSelectionRange) input.setSelectionRange(at, at);
    picker.value = "";
    input.dispatchEvent(new Event("input", { bubbles: true }));
  });
})();
/* Rule editor: each action row shows only the settings of its chosen type (all stay in the
   form, so nothing typed is lost when the type changes back). */
(function () {
  "use strict";
  function sync(row) {
    var sel = row.querySelector("[data-action-type]");
    var type = sel ? sel.value : "";
    row.querySelectorAll("[data-for]").forEach(function (el) {
      el.classList.toggle("d-none", el.dataset["for"] !== type);
    });
  }
  document.addEventListener("change", function (e) {
    if (e.target.matches("[data-action-type]")) sync(e.target.closest("[data-action-row]"));
  });
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-action-row]").forEach(sync);
  });
})();
