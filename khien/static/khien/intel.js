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

  function init() {
    drawCharts();
    document.querySelectorAll("[data-sharing-form]").forEach(toggle);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
