/* The one picker of every form that names a customer or a product (the new-order form, the OCR
   draft): <input data-picker="API URL"> inside <div class="dropdown picker"> finds an entry by
   code, name or pinyin initials (asking the JSON API: GET /api/catalog/customers|products?q=),
   shows the chosen name under the input, and fills the placeholders of the fields of the same
   row marked data-picker-unit / data-picker-price with the product's base unit and list price;
   it fires "picked" (the live summary, htmx #order-preview, listens). Nothing inline: the pages
   run under script-src 'self'; every text from the server is set with textContent. */
(function () {
  "use strict";
  var timers = new WeakMap();

  function menuOf(input) {
    var box = input.closest(".picker");
    var menu = box.querySelector(".picker-menu");
    if (!menu) {
      menu = document.createElement("div");
      menu.className = "dropdown-menu picker-menu w-100";
      menu.setAttribute("role", "listbox");
      box.appendChild(menu);
    }
    return menu;
  }

  function labelOf(input) {
    var box = input.closest(".picker");
    var label = box.querySelector(".picker-label");
    if (!label) {
      label = document.createElement("div");
      label.className = "form-hint picker-label";
      label.setAttribute("data-testid", "picker-label");
      box.appendChild(label);
    }
    return label;
  }

  function close(input) {
    var menu = input.closest(".picker").querySelector(".picker-menu");
    if (menu) { menu.classList.remove("show"); menu.textContent = ""; }
    input.setAttribute("aria-expanded", "false");
  }

  function choose(input, item) {
    input.value = item.code;
    labelOf(input).textContent = item.name + (item.unit ? " · " + item.unit : "") +
      (item.price !== null && item.price !== undefined && item.price !== "" ? " · ¥" + item.price : "");
    var row = input.closest("tr, [data-picker-row]");
    if (row && item.unit) {
      var unit = row.querySelector("[data-picker-unit]");
      if (unit) unit.placeholder = item.unit;
      var price = row.querySelector("[data-picker-price]");
      if (price && item.price !== null && item.price !== undefined) price.placeholder = String(item.price);
    }
    close(input);
    input.dispatchEvent(new CustomEvent("picked", { bubbles: true, detail: item }));
  }

  function show(input, items) {
    var menu = menuOf(input);
    menu.textContent = "";
    items.forEach(function (item, i) {
      var b = document.createElement("button");
      b.type = "button";
      b.className = "dropdown-item" + (i === 0 ? " active" : "");
      b.setAttribute("role", "option");
      b.setAttribute("data-code", item.code);
      var strong = document.createElement("strong");
      strong.textContent = item.code;
      var name = document.createElement("span");
      name.className = "ms-2";
      name.textContent = item.name;
      var hint = document.createElement("span");
      hint.className = "ms-2 text-secondary small";
      hint.textContent = item.initials;
      b.appendChild(strong); b.appendChild(name); b.appendChild(hint);
      b.addEventListener("mousedown", function (e) { e.preventDefault(); choose(input, item); });
      menu.appendChild(b);
    });
    menu.classList.toggle("show", items.length > 0);
    input.setAttribute("aria-expanded", items.length > 0 ? "true" : "false");
    input._pickerItems = items;
  }

  function search(input) {
    var q = input.value.trim();
    if (!q) { close(input); return; }
    var url = input.dataset.picker + "?q=" + encodeURIComponent(q);
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : []; })
      // a late answer never opens the menu under a field the user has left
      .then(function (items) { if (input.value.trim() === q && document.activeElement === input) show(input, items); })
      .catch(function () { close(input); });
  }

  document.addEventListener("input", function (e) {
    var input = e.target.closest && e.target.closest("input[data-picker]");
    if (!input) return;
    labelOf(input).textContent = "";
    clearTimeout(timers.get(input));
    timers.set(input, setTimeout(function () { search(input); }, 200));
  });

  document.addEventListener("keydown", function (e) {
    var input = e.target.closest && e.target.closest("input[data-picker]");
    if (!input) return;
    var menu = input.closest(".picker").querySelector(".picker-menu.show");
    if (!menu) return;
    var buttons = Array.prototype.slice.call(menu.querySelectorAll(".dropdown-item"));
    var at = buttons.findIndex(function (b) { return b.classList.contains("active"); });
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      var next = e.key === "ArrowDown" ? Math.min(buttons.length - 1, at + 1) : Math.max(0, at - 1);
      buttons.forEach(function (b, i) { b.classList.toggle("active", i === next); });
    } else if (e.key === "Enter") {
      e.preventDefault();
      if (at >= 0 && input._pickerItems) choose(input, input._pickerItems[at]);
    } else if (e.key === "Escape") {
      close(input);
    }
  });

  document.addEventListener("focusout", function (e) {
    var input = e.target.closest && e.target.closest("input[data-picker]");
    if (!input) return;
    clearTimeout(timers.get(input));  // typed, then left at once: no search after it
    setTimeout(function () { close(input); }, 150);
  });
})();
