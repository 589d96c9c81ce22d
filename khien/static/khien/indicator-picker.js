// The early-warning form's stored-indicator picker (intel/_indicator_picker.html): as one types a value or words
// of a name, the indicators the user may see are asked of intel:indicator_pick (JSON) and listed as boxes; ticking
// one moves it at once to "Chosen (n)", unticking a chosen one leaves it out (it stays listed, unticked, to be
// ticked again). Without JavaScript the "Search" button sends the form back with what was found: the same boxes.
// No inline script (CSP); text is written with textContent only.
(function () {
  "use strict";

  var DELAY = 300;  // ms after the last key before asking

  function fill(text, values) {
    return (text || "").replace(/%\((\w+)\)s/g, function (all, key) {
      return Object.prototype.hasOwnProperty.call(values, key) ? values[key] : all;
    });
  }

  function picker(root) {
    if (root.hasAttribute("data-ip-ready")) { return; }
    root.setAttribute("data-ip-ready", "");
    var input = root.querySelector("input[type=search]");
    var button = root.querySelector("button[name=indicator_search]");
    var status = root.querySelector("[data-ip-status]");
    var results = root.querySelector("[data-ip-results]");
    var resultRows = results.querySelector("[data-ip-rows]");
    var chosen = root.querySelector("[data-ip-chosen]");
    var chosenRows = chosen.querySelector("[data-ip-rows]");
    var count = root.querySelector("[data-ip-count]");
    var none = root.querySelector("[data-ip-none]");
    var template = root.querySelector("template[data-ip-template]");
    var min = parseInt(root.getAttribute("data-min"), 10) || 2;
    var timer = null;
    var asked = 0;       // the number of the last question: an older answer arriving late is dropped
    var lastQuery = null;

    function msg(name, values) { return fill(root.getAttribute("data-msg-" + name), values || {}); }

    function say(text, isError) {
      status.textContent = "";
      if (!text) { return; }
      var span = document.createElement("span");
      if (isError) { span.className = "ip-error"; }
      span.textContent = text;
      status.appendChild(span);
    }

    function chosenIds() {
      var ids = {};
      chosenRows.querySelectorAll("input[type=checkbox]").forEach(function (box) { ids[box.value] = true; });
      return ids;
    }

    function counted() {
      var n = chosenRows.querySelectorAll("input[type=checkbox]:checked").length;
      var text = fill(root.getAttribute("data-chosen-label"), {n: n});
      count.textContent = text;
      none.hidden = chosenRows.children.length > 0;
      return text;
    }

    function row(item) {
      var label = template.content.firstElementChild.cloneNode(true);
      var box = label.querySelector("input[type=checkbox]");
      box.value = item.id;
      box.checked = false;
      label.querySelector("[data-ip-kind]").textContent = item.kind_label;
      label.querySelector("[data-ip-value]").textContent = item.value;
      label.querySelector("[data-ip-more]").textContent =
        item.more ? " " + fill(root.getAttribute("data-more-label"), {n: item.more}) : "";
      label.querySelector("[data-ip-name]").textContent = item.name;
      var tlp = label.querySelector("[data-ip-tlp]");
      tlp.className = "badge tlp tlp-" + String(item.tlp).replace(/[^a-z_]/g, "");
      tlp.textContent = item.tlp_label;
      return label;
    }

    function show(data) {
      var already = chosenIds();
      var active = document.activeElement;
      var focused = active && resultRows.contains(active) ? active.value : null;  // kept on the same one
      resultRows.textContent = "";
      var shown = 0;
      (data.results || []).forEach(function (item) {
        if (already[item.id]) { return; }
        resultRows.appendChild(row(item));
        shown += 1;
      });
      results.hidden = shown === 0;
      if (focused !== null) {
        var again = resultRows.querySelector("input[value='" + focused.replace(/['\\]/g, "") + "']");
        (again || input).focus();
      }
      if (!shown) {
        say(msg("none"));
      } else {
        say(msg("found", {n: shown}) + (data.more ? " " + msg("first", {n: (data.results || []).length}) : ""));
      }
    }

    function search(now) {
      window.clearTimeout(timer);
      var query = input.value.replace(/\s+/g, " ").trim();
      if (query === lastQuery) { return; }  // asked already (its answer shown or on its way)
      if (query.length < min) {
        lastQuery = null;
        asked += 1;
        resultRows.textContent = "";
        results.hidden = true;
        say(query.length ? msg("short") : "");
        return;
      }
      var ask = function () {
        lastQuery = query;
        asked += 1;
        var mine = asked;
        say(msg("searching"));
        fetch(root.getAttribute("data-url") + "?q=" + encodeURIComponent(query), {
          credentials: "same-origin", headers: {"Accept": "application/json"}
        }).then(function (response) {
          return response.json().then(function (body) { return {ok: response.ok, body: body}; });
        }).then(function (answer) {
          if (mine !== asked) { return; }
          if (!answer.ok) {
            resultRows.textContent = "";
            results.hidden = true;
            say(answer.body && answer.body.detail ? answer.body.detail : msg("failed"), true);
            lastQuery = null;
            return;
          }
          show(answer.body);
        }).catch(function () {
          if (mine !== asked) { return; }
          lastQuery = null;
          say(msg("failed"), true);
        });
      };
      if (now) { ask(); } else { timer = window.setTimeout(ask, DELAY); }
    }

    input.addEventListener("input", function () { search(false); });
    input.addEventListener("keydown", function (e) {
      if (e.key === "Enter") { e.preventDefault(); search(true); }  // Enter searches; it never sends the warning
    });
    // The words typed are no choice of the form's.
    input.addEventListener("change", function (e) { e.stopPropagation(); });
    // The button searches here; without JavaScript it sends the form back with what was found. It is the form's
    // first button: Enter in another field lands here too, and sends nothing.
    button.addEventListener("click", function (e) {
      e.preventDefault();
      if (document.activeElement !== button && document.activeElement !== input && !input.value.trim()) { return; }
      search(true);
    });

    results.addEventListener("change", function (e) {
      var box = e.target;
      if (box.type !== "checkbox" || !box.checked) { return; }
      // Ticked: it moves to the chosen at once; the focus goes to the next one found (else back to the search box),
      // so one can tick several in a row; the move is said aloud.
      var label = box.closest("label");
      var next = label.nextElementSibling || label.previousElementSibling;
      // the focus moves first: a focused box moved in the page would leave it on nothing
      (next ? next.querySelector("input[type=checkbox]") : input).focus();
      chosenRows.appendChild(label);
      var text = counted();
      results.hidden = resultRows.children.length === 0;
      say(msg("added", {v: label.querySelector("[data-ip-value]").textContent, chosen: text}));
    });
    chosen.addEventListener("change", function (e) {
      if (e.target.type === "checkbox") { counted(); }
    });
    counted();
  }

  function init() {
    document.querySelectorAll("[data-indicator-picker]").forEach(picker);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
}());
