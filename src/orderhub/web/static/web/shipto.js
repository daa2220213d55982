/* New-order form: the ship-to select lists the chosen customer's addresses (asking the JSON
   API: GET /api/catalog/customers/{code}/addresses), the default first. */
(function () {
  "use strict";
  var select = document.getElementById("id_ship_to_address_id");
  var customer = document.getElementById("id_customer");
  if (!select || !customer) return;
  var base = select.dataset.addresses.replace(/\/$/, "");
  var loaded = null;

  function fill(items) {
    var chosen = select.value || select.dataset.chosen;
    while (select.options.length > 1) select.remove(1);
    items.forEach(function (a) {
      var o = document.createElement("option");
      o.value = String(a.id);
      o.textContent = (a.label ? a.label + " · " : "") + [a.receiver, a.phone, a.address].filter(Boolean).join(" ");
      if (String(a.id) === chosen) o.selected = true;
      select.appendChild(o);
    });
  }

  function load() {
    var code = customer.value.trim().toUpperCase();
    if (!code || code === loaded) return;
    loaded = code;
    fetch(base + "/" + encodeURIComponent(code) + "/addresses",
          { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : []; })
      .then(function (items) { if (loaded === code) fill(items); })
      .catch(function () { fill([]); });
  }

  customer.addEventListener("picked", load);
  load();
})();
