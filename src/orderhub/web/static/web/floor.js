/* The shop-floor ticket form (/tickets/new/): photos taken on the phone are drawn onto a canvas
   at most 1600 px on their long side and re-encoded as JPEG before they are sent (a 12 MP
   camera photo of 4 MB becomes ~300 KB); the server checks them again. Previews are canvases
   (no blob: URLs, which the page's policy does not allow). Similar past resolutions are asked of
   /api/tickets/similar when the problem type or the description changes and shown as text. */
(function () {
  "use strict";
  var MAX_SIDE = 1600, QUALITY = 0.8, PREVIEW = 96;
  var form = document.getElementById("floor-form");
  if (!form) return;
  var input = document.getElementById("id_photos");
  var previews = document.getElementById("floor-previews");
  var status = document.getElementById("floor-photo-status");
  var submit = form.querySelector("[type=submit]");
  var busy = 0;

  function scaled(w, h, side) {
    var k = Math.min(1, side / Math.max(w, h));
    return [Math.max(1, Math.round(w * k)), Math.max(1, Math.round(h * k))];
  }

  function draw(bitmap, side) {
    var size = scaled(bitmap.width, bitmap.height, side);
    var c = document.createElement("canvas");
    c.width = size[0]; c.height = size[1];
    var g = c.getContext("2d");
    g.fillStyle = "#fff"; g.fillRect(0, 0, c.width, c.height);
    g.drawImage(bitmap, 0, 0, c.width, c.height);
    return c;
  }

  function shrink(file) {
    if (!window.createImageBitmap || !/^image\//.test(file.type || "image/")) return Promise.resolve(file);
    return createImageBitmap(file).then(function (bitmap) {
      var preview = draw(bitmap, PREVIEW);
      preview.className = "floor-preview";
      previews.appendChild(preview);
      var big = draw(bitmap, MAX_SIDE);
      if (bitmap.close) bitmap.close();
      return new Promise(function (resolve) {
        big.toBlob(function (blob) {
          if (!blob || (blob.size >= file.size && file.type === "image/jpeg")) { resolve(file); return; }
          var stem = (file.name || "photo").replace(/\.[^.]*$/, "") || "photo";
          resolve(new File([blob], stem + ".jpg", {type: "image/jpeg", lastModified: Date.now()}));
        }, "image/jpeg", QUALITY);
      });
    }).catch(function () { return file; });  // not decodable here: the server decides
  }

  input.addEventListener("change", function () {
    var max = parseInt(input.dataset.max || "6", 10);
    var files = Array.prototype.slice.call(input.files || []);
    previews.textContent = "";
    if (!files.length) { status.textContent = ""; return; }
    var note = files.length > max ? " " + status.dataset.tooMany : "";
    files = files.slice(0, max);
    busy += 1; submit.disabled = true;
    status.textContent = status.dataset.busy;
    Promise.all(files.map(shrink)).then(function (out) {
      var dt = new DataTransfer();
      out.forEach(function (f) { dt.items.add(f); });
      input.files = dt.files;
      status.textContent = status.dataset.done.replace("{n}", String(out.length)) + note;
      form.dataset.photosReady = String(out.length);
    }).finally(function () {
      busy -= 1;
      if (!busy) submit.disabled = false;
    });
  });

  form.addEventListener("submit", function (e) { if (busy) e.preventDefault(); });

  // similar past resolutions
  var box = document.getElementById("floor-similar");
  var list = document.getElementById("floor-similar-list");
  var tpl = document.getElementById("floor-similar-item");
  var timer = null;
  function ask() {
    var type = form.querySelector("input[name=problem_type]:checked");
    var params = new URLSearchParams({
      problem_type: type ? type.value : "",
      product: (form.elements.product && form.elements.product.value) || "",
      text: (form.elements.body && form.elements.body.value) || "", limit: "3"});
    if (!params.get("problem_type") && !params.get("text")) return;
    fetch(form.dataset.similarUrl + "?" + params.toString(), {credentials: "same-origin",
      headers: {"Accept": "application/json"}})
      .then(function (r) { return r.ok ? r.json() : []; })
      .then(function (rows) {
        list.textContent = "";
        rows.forEach(function (row) {
          var item = tpl.content.firstElementChild.cloneNode(true);
          item.href = "/tickets/" + encodeURIComponent(row.ticket.id) + "/";
          item.querySelector("[data-f=title]").textContent = row.ticket.title;
          item.querySelector("[data-f=cause]").textContent = row.ticket.cause;
          item.querySelector("[data-f=fix]").textContent = row.ticket.fix;
          list.appendChild(item);
        });
        box.classList.toggle("d-none", rows.length === 0);
      }).catch(function () {});
  }
  function later() { clearTimeout(timer); timer = setTimeout(ask, 400); }
  form.addEventListener("change", function (e) {
    if (e.target.name === "problem_type" || e.target.name === "product") later();
  });
  if (form.elements.body) form.elements.body.addEventListener("input", later);
})();
