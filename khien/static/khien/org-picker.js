// The checkbox lists of several choices (intel.forms.CheckboxPicker: the early warning's sectors, provinces,
// ISACs and organizations, the TLP:RED recipients, a report's objects): a text filter over the boxes of a long
// list, by code or name, and the count of those ticked kept current. Without JavaScript every box is listed
// (the ticked ones first, under "Chosen (n)"), without the filter or the count. No inline script (CSP);
// the widget's template loads this file, once per widget: each list is set up once.
(function () {
  "use strict";

  function fold(text) {
    return (text || "").toLowerCase().normalize("NFD").replace(/[\u0300-\u036f]/g, "").replace(/\u0111/g, "d");
  }

  function picker(root) {
    if (root.hasAttribute("data-org-ready")) { return; }
    root.setAttribute("data-org-ready", "");
    var row = root.querySelector("[data-org-filter]");  // none for a short list: every box is in sight
    var input = row && row.querySelector("input[type=search]");
    var shown = root.querySelector("[data-org-shown]");
    var count = root.querySelector("[data-org-count]");
    var boxes = Array.prototype.slice.call(root.querySelectorAll("input[type=checkbox]"));
    var groups = Array.prototype.slice.call(root.querySelectorAll("[data-org-group]"));
    var folded = boxes.map(function (box) { return fold(box.closest("label").textContent); });
    var opened = null;  // the groups open before a filter was typed, opened again once it is cleared

    function counted() {
      if (!count) { return; }  // nothing to choose from
      var n = boxes.filter(function (box) { return box.checked; }).length;
      var text = root.getAttribute(n === 1 ? "data-count-one" : "data-count-other") || "%(n)s";
      count.textContent = text.replace("%(n)s", n);
    }

    function filter() {
      var words = fold(input.value).split(/\s+/).filter(Boolean);
      var visible = 0;
      boxes.forEach(function (box, i) {
        var match = words.every(function (w) { return folded[i].indexOf(w) !== -1; });
        var label = box.closest("label");
        label.hidden = !match && !box.checked;  // a ticked box stays in sight
        if (!label.hidden) { visible += 1; }
      });
      if (words.length && opened === null) {
        opened = groups.map(function (g) { return g.open; });
      }
      groups.forEach(function (g, i) {
        var any = Array.prototype.some.call(g.querySelectorAll("label"), function (l) { return !l.hidden; });
        g.hidden = words.length > 0 && !any;
        if (words.length) {
          g.open = any;
        } else if (opened !== null) {  // and a group where a box was ticked meanwhile stays open: it is seen
          g.open = opened[i] || g.querySelector("input:checked") !== null;
        }
      });
      if (!words.length) { opened = null; }
      shown.textContent = words.length ? (root.getAttribute("data-shown-label") || "%(shown)s / %(total)s")
        .replace("%(shown)s", visible).replace("%(total)s", boxes.length) : "";
    }

    if (row) {
      input.addEventListener("input", filter);
      // Enter in the filter box must not send the form.
      input.addEventListener("keydown", function (e) { if (e.key === "Enter") { e.preventDefault(); } });
      // The words typed are no choice: the form's "who will see it" box is not asked again for them.
      input.addEventListener("change", function (e) { e.stopPropagation(); });
      row.hidden = false;
    }
    root.addEventListener("change", function (e) {
      if (e.target.type === "checkbox") { counted(); }
    });
    if (count) { count.hidden = false; }  // without JavaScript it would not follow the ticks: "Chosen (n)" says what was ticked
    counted();
  }

  function init() {
    document.querySelectorAll("[data-picker]").forEach(picker);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
