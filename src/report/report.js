// rampart fleet report: filtering and sorting of the tenant x object matrix. Plain script,
// no libraries, no network. The page is complete without it; this only hides and orders
// rows. The view lives in the address's fragment (#tenant=..&kind=..&state=..&sort=N, N the
// column's position, 0 the tenant, -N descending) so it can be linked to and reopened from
// disk.
"use strict";
(function () {
  var table = document.getElementById("matrix");
  if (!table) { return; }
  var fTenant = document.getElementById("f-tenant");
  var fKind = document.getElementById("f-kind");
  var fState = document.getElementById("f-state");
  var status = document.getElementById("status");
  // Severity order of states, from the legend (the state table's order).
  var order = {};
  document.querySelectorAll("ul.legend li[data-s]").forEach(function (li, i) {
    order["s-" + li.getAttribute("data-s")] = i;
  });
  var heads = Array.prototype.slice.call(table.tHead.rows[0].cells);
  var colKind = heads.map(function (th) { return th.getAttribute("data-k"); });
  var bodies = Array.prototype.slice.call(table.tBodies);
  var total = table.querySelectorAll("tbody tr.t").length;
  var sorted = "";

  function stateOf(cell) {
    for (var i = 0; i < cell.classList.length; i++) {
      var c = cell.classList[i];
      if (c in order) { return order[c]; }
    }
    return -1;
  }

  function hasOption(select, value) {
    return Array.prototype.some.call(select.options, function (o) { return o.value === value; });
  }

  function apply(updateHash) {
    var tenant = fTenant.value.trim().toLowerCase();
    var kind = fKind.value;
    var state = fState.value;
    var want = state ? "s-" + state : "";
    var visible = colKind.map(function (k, i) { return i === 0 || !kind || k === kind; });
    var visibleCols = visible.filter(Boolean).length;
    heads.forEach(function (th, i) { th.hidden = !visible[i]; });
    var shown = 0;
    bodies.forEach(function (body) {
      var inGroup = 0;
      var rows = body.rows;
      var groupRow = null;
      for (var r = 0; r < rows.length; r++) {
        var row = rows[r];
        if (row.classList.contains("group")) { groupRow = row; continue; }
        var cells = row.cells;
        var match = !tenant || cells[0].textContent.toLowerCase().indexOf(tenant) !== -1;
        var has = !want;
        for (var c = 1; c < cells.length; c++) {
          cells[c].hidden = !visible[c];
          if (!has && visible[c] && cells[c].classList.contains(want)) { has = true; }
        }
        row.hidden = !(match && has);
        if (!row.hidden) { inGroup++; }
      }
      if (groupRow) {
        groupRow.hidden = inGroup === 0;
        groupRow.cells[0].colSpan = visibleCols;
        var count = groupRow.querySelector(".gcount");
        if (count) { count.textContent = inGroup + " of " + count.getAttribute("data-total") + " tenants"; }
      }
      shown += inGroup;
    });
    var what = [];
    if (tenant) { what.push("tenant contains \u201c" + fTenant.value.trim() + "\u201d"); }
    if (kind) { what.push("kind " + kind); }
    if (state) { what.push("state " + fState.options[fState.selectedIndex].text); }
    status.textContent = "Showing " + shown + " of " + total + " tenants" +
      (what.length ? " (" + what.join(", ") + ")" : "") + ".";
    if (updateHash) {
      var p = new URLSearchParams();
      if (fTenant.value.trim()) { p.set("tenant", fTenant.value.trim()); }
      if (kind) { p.set("kind", kind); }
      if (state) { p.set("state", state); }
      if (sorted) { p.set("sort", sorted); }
      var h = p.toString();
      history.replaceState(null, "", h ? "#" + h : location.pathname + location.search);
    }
  }

  // Sorts every group's rows by column `index` (states by severity, then tenant name).
  function sortBy(index, dir) {
    var th = heads[index];
    heads.forEach(function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", dir === 1 ? "ascending" : "descending");
    sorted = (dir === 1 ? "" : "-") + index;
    bodies.forEach(function (body) {
      var rows = Array.prototype.filter.call(body.rows, function (r) { return r.classList.contains("t"); });
      rows.sort(function (a, b) {
        var d = 0;
        if (index > 0) { d = stateOf(a.cells[index]) - stateOf(b.cells[index]); }
        if (d === 0) { d = a.cells[0].textContent.localeCompare(b.cells[0].textContent); }
        return d * dir;
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  }

  heads.forEach(function (th, i) {
    var b = th.querySelector("button");
    if (b) {
      b.addEventListener("click", function () {
        sortBy(i, th.getAttribute("aria-sort") === "ascending" ? -1 : 1);
        apply(true);
      });
    }
  });
  [fTenant, fKind, fState].forEach(function (el) {
    el.addEventListener("input", function () { apply(true); });
  });
  document.getElementById("filters").addEventListener("submit", function (e) { e.preventDefault(); });

  // Filters from the fragment, e.g. fleet.html#state=error&kind=DetectionRule.
  if (location.hash.length > 1 && location.hash.indexOf("=") !== -1) {
    var p = new URLSearchParams(location.hash.slice(1));
    fTenant.value = p.get("tenant") || "";
    if (hasOption(fKind, p.get("kind") || "")) { fKind.value = p.get("kind") || ""; }
    if (hasOption(fState, p.get("state") || "")) { fState.value = p.get("state") || ""; }
    var sort = /^-?[0-9]+$/.test(p.get("sort") || "") ? parseInt(p.get("sort"), 10) : NaN;
    if (Math.abs(sort) < heads.length) { sortBy(Math.abs(sort), (p.get("sort") || "").charAt(0) === "-" ? -1 : 1); }
  }
  apply(false);
  // When the page became usable, in ms since navigation started: read by the load-time
  // measurement (`chromium --headless --dump-dom fleet.html | grep data-ready-ms`).
  document.documentElement.setAttribute("data-ready-ms", String(Math.round(performance.now())));
})();
