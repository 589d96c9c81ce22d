// Threat-intelligence pages: the weekly chart (local ECharts) and the form helpers.
// No inline script (CSP): data comes from json_script blocks; without JavaScript
// every field stays visible and the figures table stays open.
(function () {
  "use strict";

  function drawCharts() {
    if (typeof window.echarts === "undefined") { return; }
    document.querySelectorAll("[data-chart]").forEach(function (el) {
      var source = document.getElementById("chart-" + el.getAttribute("data-chart"));
      if (!source) { return; }
      var data = JSON.parse(source.textContent);
      if (!data.values.some(function (v) { return v > 0; })) { return; }
      el.hidden = false;
      var chart = window.echarts.init(el, null, { renderer: "canvas" });
      chart.setOption({
        color: ["#b91c1c"],
        tooltip: { renderMode: "richText", trigger: "axis", confine: true },
        grid: { left: 8, right: 16, top: 24, bottom: 8, containLabel: true },
        xAxis: { type: "category", data: data.labels },
        yAxis: { type: "value", minInterval: 1 },
        series: [{ type: "bar", data: data.values, barMaxWidth: 28, label: { show: true, position: "top" } }],
        animationDuration: 300
      });
      var numbers = el.closest("[data-chart-card]") && el.closest("[data-chart-card]").querySelector("details.numbers");
      if (numbers) { numbers.open = false; }
      window.addEventListener("resize", function () { chart.resize(); });
    });
  }

  function toggle(form) {
    var kind = form.querySelector("select[name=value_kind]");
    var level = form.querySelector("select[name=tlp]");
    function update() {
      if (kind) {
        var expert = kind.value === "pattern";
        form.querySelectorAll("[data-when-kind]").forEach(function (el) {
          el.hidden = (el.getAttribute("data-when-kind") === "pattern") !== expert;
        });
      }
      if (level) {
        form.querySelectorAll("[data-when-tlp]").forEach(function (el) {
          el.hidden = el.getAttribute("data-when-tlp") !== level.value;
        });
      }
    }
    if (kind) { kind.addEventListener("change", update); }
    if (level) { level.addEventListener("change", update); }
    update();
  }

  // A long multi-select (the TLP:RED recipients) gets a text filter over its options and the list of what
  // is chosen. Without JavaScript the grouped select itself still works.
  function fold(text) {
    return (text || "").toLowerCase().normalize("NFD").replace(/[\u0300-\u036f]/g, "").replace(/\u0111/g, "d");
  }

  function filterable(select) {
    var input = document.createElement("input");
    input.type = "search";
    input.className = "option-filter";
    input.placeholder = select.getAttribute("data-filter-placeholder") || "";
    input.setAttribute("aria-label", input.placeholder);
    input.setAttribute("aria-controls", select.id);
    var shown = document.createElement("span");
    shown.className = "small muted option-count";
    shown.setAttribute("aria-live", "polite");
    var chosen = document.createElement("p");
    chosen.className = "small chosen";
    chosen.setAttribute("aria-live", "polite");
    select.parentNode.insertBefore(input, select);
    select.parentNode.insertBefore(shown, select);
    select.parentNode.insertBefore(chosen, select.nextSibling);
    var options = Array.prototype.slice.call(select.options);
    options.forEach(function (o) {
      o.setAttribute("data-folded", fold(o.text));
      if (!o.title) { o.title = o.text; }  // the whole name on hover, however narrow the list
    });

    function filter() {
      var words = fold(input.value).split(/\s+/).filter(Boolean);
      var count = 0;
      options.forEach(function (o) {
        var text = o.getAttribute("data-folded");
        var match = words.every(function (w) { return text.indexOf(w) !== -1; });
        o.hidden = !match && !o.selected;
        if (!o.hidden) { count += 1; }
      });
      select.querySelectorAll("optgroup").forEach(function (g) {
        g.hidden = !Array.prototype.some.call(g.children, function (o) { return !o.hidden; });
      });
      shown.textContent = (select.getAttribute("data-shown-label") || "%(shown)s / %(total)s")
        .replace("%(shown)s", count).replace("%(total)s", options.length);
    }

    function summary() {
      var names = options.filter(function (o) { return o.selected; })
        .map(function (o) { return o.text.split(" — ")[0]; });
      chosen.textContent = (select.getAttribute("data-chosen-label") || "") + " " +
        (names.length ? names.join(", ") : (select.getAttribute("data-none-label") || "—"));
    }

    input.addEventListener("input", filter);
    input.addEventListener("keydown", function (e) { if (e.key === "Enter") { e.preventDefault(); } });
    select.addEventListener("change", function () { summary(); });
    filter();
    summary();
  }

  function init() {
    drawCharts();
    document.querySelectorAll("[data-sharing-form]").forEach(toggle);
    document.querySelectorAll("select[multiple][data-filterable]").forEach(filterable);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
