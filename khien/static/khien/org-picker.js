// The checkbox lists of several choices (core.widgets.CheckboxPicker: the early warning's sectors, provinces,
// ISACs and organizations, the TLP:RED recipients, a report's objects, an ISAC's members): a text filter over the
// boxes of a long list, the count of those ticked kept current, and a box ticked moved at once to "Chosen (n)"
// (back to its place in its group when unticked). Without JavaScript every box is listed (the ticked ones first,
// under "Chosen (n)", once the form is shown again), without the filter or the count. No inline script (CSP);
// the widget's template loads this file, once per widget: each list is set up once.
(function () {
  "use strict";

  // Lower case, without accents, đ read as d: "ha noi" finds "Hà Nội", as Vietnamese is typed without its marks.
  function fold(text) {
    return (text || "").toLowerCase().normalize("NFD").replace(/[\u0300-\u036f]/g, "").replace(/\u0111/g, "d");
  }

  // The words of a text, folded: what a typed word must begin ("ha" finds "Hà Nội" and "Hải Phòng", not "Thanh Hóa").
  function words(text) {
    return fold(text).split(/[^a-z0-9]+/).filter(Boolean);
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
    var homes = {};  // data-home -> the list a box goes back to when unticked
    root.querySelectorAll("[data-org-home]").forEach(function (list) { homes[list.getAttribute("data-org-home")] = list; });
    var labelWords = boxes.map(function (box) { return words(box.closest("label").textContent); });
    var opened = null;  // the groups open before a filter was typed, opened again once it is cleared

    function typed() { return input ? words(input.value) : []; }

    function matches(i, typedWords) {
      return typedWords.every(function (w) {
        return labelWords[i].some(function (word) { return word.indexOf(w) === 0; });
      });
    }

    function counted() {
      if (!count) { return; }  // nothing to choose from
      var n = boxes.filter(function (box) { return box.checked; }).length;
      var text = root.getAttribute(n === 1 ? "data-count-one" : "data-count-other") || "%(n)s";
      count.textContent = text.replace("%(n)s", n);
    }

    function filter() {
      var typedWords = typed();
      var visible = 0;
      boxes.forEach(function (box, i) {
        var label = box.closest("label");
        label.hidden = !box.checked && !matches(i, typedWords);  // a ticked box stays in sight
        if (!label.hidden) { visible += 1; }
      });
      if (typedWords.length && opened === null) {
        opened = groups.map(function (g) { return g.open; });
      }
      groups.forEach(function (g, i) {
        var labels = g.querySelectorAll("label");
        var any = Array.prototype.some.call(labels, function (l) { return !l.hidden; });
        g.hidden = !labels.length || (typedWords.length > 0 && !any);
        if (typedWords.length) {
          g.open = any;
        } else if (opened !== null) {  // and a group where a box was ticked meanwhile stays open: it is seen
          g.open = opened[i] || g.querySelector("input:checked") !== null;
        }
      });
      if (!typedWords.length) { opened = null; }
      if (shown) {
        shown.textContent = typedWords.length ? (root.getAttribute("data-shown-label") || "%(shown)s / %(total)s")
          .replace("%(shown)s", visible).replace("%(total)s", boxes.length) : "";
      }
    }

    // The "Chosen (n)" box: the server writes it when something is ticked; else it is made on the first tick.
    function chosenBox() {
      var fieldset = root.querySelector("[data-org-chosen]");
      if (!fieldset) {
        fieldset = document.createElement("fieldset");
        fieldset.className = "org-group org-chosen";
        fieldset.setAttribute("data-org-chosen", "");
        fieldset.appendChild(document.createElement("legend"));
        var list = document.createElement("div");
        list.className = "org-options";
        fieldset.appendChild(list);
        var after = count || (row && row.nextSibling);
        root.insertBefore(fieldset, after ? after.nextSibling : root.firstChild);
      }
      return fieldset;
    }

    // In its rank among the boxes of `list` (data-order: the order of the choices).
    function place(label, list) {
      var order = Number(label.getAttribute("data-order"));
      var next = Array.prototype.find.call(list.children, function (other) {
        return Number(other.getAttribute("data-order")) > order;
      });
      list.insertBefore(label, next || null);
    }

    // Each group's title says how many boxes it holds; an empty group or list is hidden, and so is "Chosen (0)".
    function tidy() {
      Object.keys(homes).forEach(function (key) {
        var list = homes[key];
        var n = list.querySelectorAll("label").length;
        var group = list.closest("[data-org-group]");
        if (group) {
          group.querySelector("summary").textContent = group.getAttribute("data-name") + " (" + n + ")";
          group.hidden = n === 0;
        } else {
          list.hidden = n === 0;
        }
      });
      var fieldset = root.querySelector("[data-org-chosen]");
      if (fieldset) {
        var n = fieldset.querySelectorAll("label").length;
        fieldset.hidden = n === 0;
        fieldset.querySelector("legend").textContent =
          (root.getAttribute("data-chosen-label") || "(%(n)s)").replace("%(n)s", n);
      }
    }

    // The next box in sight of the list a box left (else the one before): where the keyboard goes on, so that
    // ticking down a list with the space bar keeps its place rather than jumping to the top with the box.
    function neighbour(label) {
      var siblings = Array.prototype.filter.call(label.parentNode.children, function (l) {
        return l === label || !l.hidden;
      });
      var i = siblings.indexOf(label);
      var other = siblings[i + 1] || siblings[i - 1];
      return other ? other.querySelector("input[type=checkbox]") : null;
    }

    function moved(box) {
      var label = box.closest("label");
      var focused = document.activeElement === box;
      var next = focused ? neighbour(label) : null;
      if (box.checked) {
        place(label, chosenBox().querySelector(".org-options"));
      } else {
        var home = homes[label.getAttribute("data-home")];
        if (!home) { return; }
        place(label, home);
      }
      tidy();
      if (typed().length) { filter(); }
      if (focused) {
        if (!next) {  // the last of its list: it keeps the focus where it now is, its group opened
          var group = label.closest("details");
          if (group) { group.open = true; }
          next = box;
        }
        next.focus();
      }
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
      if (e.target.type === "checkbox") {
        moved(e.target);
        counted();
      }
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
