// Draws the charts of every statistics page (registry overview, incident statistics) with the
// locally served Apache ECharts: a page marks each chart with data-chart="<key>" data-kind="bar|hbar|pie|stacked".
// The numbers come from <script type="application/json"> blocks written by
// Django's json_script (no inline script: the Content-Security-Policy forbids it).
// Without ECharts (assets not installed) or without JavaScript, the tables
// under each chart show the same numbers.
(function () {
  "use strict";
  var PALETTE = ["#b91c1c", "#1d4ed8", "#15803d", "#b45309", "#7c3aed", "#0f766e", "#be185d", "#4b5563"];
  // Colours that carry a meaning, by the key the server gives with each value. Neighbouring slices differ in lightness
  // as well as hue, for readers who do not tell red from green (CIE L* in brackets). Level status in its order:
  // draft indigo (50), submitted light amber (81), appraised dark amber (47), approved light green (70), returned red
  // (40). Severity, low to critical: blue-grey (66), amber (81), orange (57), dark red (28); the same in telemetry.js.
  var STATE_COLORS = {
    draft: "#6366f1", submitted: "#fbbf24", appraised: "#b45309", approved: "#22c55e", returned: "#b91c1c",
    in_place: "#15803d", partial: "#fbbf24", missing: "#b91c1c",
    low: "#94a3b8", medium: "#fbbf24", high: "#ea580c", critical: "#7f1d1d"
  };
  // Narrower than this (a phone), a donut names its slices in a legend rather than in labels around it, which the
  // width would cut short, and horizontal bars give their names less room.
  var NARROW = 480;

  // Numbers as the page's language writes them (vi: 14.479, en: 14,479), on axes, labels and tooltips.
  var numberFormat = new Intl.NumberFormat(document.documentElement.lang || undefined);
  function number(value) { return numberFormat.format(value); }
  function valueLabel(params) { return number(params.value); }
  var valueAxis = { type: "value", minInterval: 1, axisLabel: { formatter: number } };

  function readData(key) {
    var el = document.getElementById("chart-" + key);
    return el ? JSON.parse(el.textContent) : null;
  }

  var base = {
    color: PALETTE,
    // richText tooltips are drawn on the canvas: no HTML with style attributes (CSP).
    tooltip: { renderMode: "richText", confine: true, valueFormatter: number },
    grid: { left: 8, right: 24, top: 24, bottom: 8, containLabel: true },
    animationDuration: 300
  };

  function merge(a, b) {
    var out = {}, k;
    for (k in a) { out[k] = a[k]; }
    for (k in b) { out[k] = b[k]; }
    return out;
  }

  var builders = {
    bar: function (d, width) {
      // Up to 8 columns, each name breaks into lines within its own column (60 px: the value axis), so that two
      // neighbouring names never run into one another ("Level 5Not approved"); more columns turn their names.
      var rotate = d.labels.length > 8;
      var labelWidth = Math.max(40, Math.min(110, Math.floor((width - 60) / Math.max(1, d.labels.length)) - 6));
      var axisLabel = rotate ? { interval: 0, rotate: 45 }
                             : { interval: 0, width: labelWidth, overflow: "break", lineHeight: 14 };
      return merge(base, {
        tooltip: { renderMode: "richText", trigger: "axis", valueFormatter: number },
        xAxis: { type: "category", data: d.labels, axisLabel: axisLabel },
        yAxis: valueAxis,
        series: [{ type: "bar", data: d.values, barMaxWidth: 48, label: { show: true, position: "top", formatter: valueLabel } }]
      });
    },
    hbar: function (d, width) {  // the first 15 (the server sends them largest first)
      var narrow = width < NARROW;
      return merge(base, {
        tooltip: { renderMode: "richText", trigger: "axis", valueFormatter: number },
        grid: { left: 8, right: 40, top: 8, bottom: 8, containLabel: true },
        // On a phone the value axis has no room for its numbers: each bar writes its own.
        xAxis: merge(valueAxis, { axisLabel: { show: !narrow, formatter: number } }),
        yAxis: { type: "category", data: d.labels.slice(0, 15).reverse(),
                 axisLabel: { width: Math.min(220, Math.round(width * 0.4)), overflow: "truncate" } },
        series: [{ type: "bar", data: d.values.slice(0, 15).reverse(), barMaxWidth: 22,
                   label: { show: true, position: "right", formatter: valueLabel } }]
      });
    },
    pie: function (d, width) {
      var narrow = width < NARROW;
      var counts = {};
      d.labels.forEach(function (label, i) { counts[label] = d.values[i]; });
      var data = d.labels.map(function (label, i) {
        var item = { name: label, value: d.values[i] };
        if (d.keys && STATE_COLORS[d.keys[i]]) { item.itemStyle = { color: STATE_COLORS[d.keys[i]] }; }
        return item;
      }).filter(function (item) { return item.value > 0; });
      return merge(base, {
        tooltip: { renderMode: "richText", trigger: "item", valueFormatter: number },
        // Each slice names its count; on a phone in the legend, which wraps, rather than in labels around the donut.
        legend: narrow ? { bottom: 0, type: "plain", itemGap: 6, formatter: function (name) { return name + ": " + number(counts[name]); } }
                       : { bottom: 0, type: "scroll" },
        series: [{ type: "pie", radius: narrow ? ["34%", "60%"] : ["40%", "68%"], center: ["50%", narrow ? "36%" : "44%"], data: data,
                   label: { show: !narrow, formatter: function (p) { return p.name + ": " + number(p.value); } },
                   labelLine: { show: !narrow } }]
      });
    },
    stacked: function (d, width) {
      // Each column's name breaks into lines within its own column (60 px: the value axis).
      var labelWidth = Math.max(48, Math.min(110, Math.floor((width - 60) / Math.max(1, d.labels.length)) - 8));
      return merge(base, {
        tooltip: { renderMode: "richText", trigger: "axis", valueFormatter: number },
        legend: { bottom: 0 },
        grid: { left: 8, right: 24, top: 16, bottom: width < NARROW ? 64 : 40, containLabel: true },  // room for the legend (two rows on a phone)
        xAxis: { type: "category", data: d.labels, axisLabel: { interval: 0, width: labelWidth, overflow: "break", lineHeight: 14 } },
        yAxis: valueAxis,
        series: d.series.map(function (s) {
          return { type: "bar", stack: "layers", name: s.name, data: s.values, barMaxWidth: 56,
                   itemStyle: { color: STATE_COLORS[s.key] } };
        })
      });
    }
  };

  function draw() {
    if (typeof window.echarts === "undefined") { return; }  // tables stay open
    var charts = [];  // [chart, element, builder, data]
    document.querySelectorAll("[data-chart]").forEach(function (el) {
      var data = readData(el.getAttribute("data-chart"));
      var build = builders[el.getAttribute("data-kind")];
      if (!data || !build) { return; }
      var values = data.values || [].concat.apply([], (data.series || []).map(function (s) { return s.values; }));
      if (!values.some(function (v) { return v > 0; })) { return; }  // nothing to draw: the table says so
      el.hidden = false;
      var chart = window.echarts.init(el, null, { renderer: "canvas" });
      chart.setOption(build(data, el.clientWidth));
      charts.push([chart, el, build, data]);
      var card = el.closest("[data-chart-card]");
      var numbers = card && card.querySelector("details.numbers");
      if (numbers) { numbers.open = false; }
    });
    // A new width may call for other labels (a legend, shorter names): draw again once the resizing stops.
    var resizing;
    window.addEventListener("resize", function () {
      window.clearTimeout(resizing);
      resizing = window.setTimeout(function () {
        charts.forEach(function (c) {
          c[0].resize();
          var redraw = c[2](c[3], c[1].clientWidth);
          redraw.animation = false;
          c[0].setOption(redraw, true);
        });
      }, 150);
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
