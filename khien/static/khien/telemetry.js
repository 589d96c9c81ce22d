// Live national dashboard: draws the charts with the locally served ECharts and
// refreshes every data-refresh seconds from the JSON view (no inline script: CSP).
(function () {
  "use strict";
  var root = document.getElementById("tele-dashboard");
  if (!root) { return; }
  var PALETTE = ["#1d4ed8", "#b91c1c", "#15803d", "#b45309", "#7c3aed", "#0f766e", "#be185d", "#4b5563"];
  // Colours with a meaning, by the key the server gives with each value. Neighbouring slices differ in lightness as
  // well as hue (readers who do not tell red from green): severity from a light blue-grey "low" through amber and
  // orange to a dark red "critical" (CIE L* 66, 81, 57, 28); the same severity colours as charts.js.
  var SEVERITY = { low: "#94a3b8", medium: "#fbbf24", high: "#ea580c", critical: "#7f1d1d",
                   live: "#16a34a", silent: "#991b1b", rejecting: "#ea580c", never: "#fbbf24", disabled: "#475569" };
  // Narrower than this (a phone), a donut names its slices in a legend rather than in labels around it, which the
  // width would cut short.
  var NARROW = 480;
  // The hourly chart names one hour in 6, 12 or 24: as many as fit, each given this room ("04/12 05:00" on one line,
  // or on two on a phone).
  var HOUR_LABEL_WIDTH = 80, HOUR_LABEL_WIDTH_TWO_LINES = 48;
  var charts = {};
  var latest = {};  // the data each chart shows now (its links)
  // Numbers as the page's language writes them (vi: 10.220, en: 10,220), on axes, bar labels and tooltips.
  var numberFormat = new Intl.NumberFormat(document.documentElement.lang || undefined);
  function number(value) { return typeof value === "number" ? numberFormat.format(value) : value; }

  // Times come as ISO 8601 in Vietnam time with the offset ("2026-12-06T18:08:56+07:00", as the server writes them):
  // shown as the rest of the platform shows times, 06/12/2026 18:08:56 (or 06/12 18:08 without the year).
  function shownTime(iso, full) {
    var m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})/.exec(iso || "");
    if (!m) { return iso || ""; }
    return full ? m[3] + "/" + m[2] + "/" + m[1] + " " + m[4] + ":" + m[5] + ":" + m[6] : m[3] + "/" + m[2] + " " + m[4] + ":" + m[5];
  }

  // Bar names too long for their room are cut in the middle, not at the end: "People's Committee of Hue" and
  // "People's Committee of Tay Ninh" stay apart ("People's Co…of Tay Ninh"); the tooltip gives the whole name.
  var measure = document.createElement("canvas").getContext("2d");
  var LABEL_FONT = "12px sans-serif";  // ECharts' axis labels
  function textWidth(text) { measure.font = LABEL_FONT; return measure.measureText(text).width; }
  function cutMiddle(text, room, headShare) {
    if (textWidth(text) <= room) { return text; }
    for (var keep = text.length - 1; keep > 1; keep--) {
      var tail = text.slice(text.length - (keep - Math.round(keep * headShare)));
      // The end in whole words ("… of Tay Ninh", not "…ee of Tay Ninh"); the head takes the characters left over.
      var space = tail.search(/\s/);
      if (space >= 0 && !/\s/.test(text.charAt(text.length - tail.length - 1))) { tail = tail.slice(space); }
      var cut = text.slice(0, keep - tail.length).replace(/\s+$/, "") + "…" + tail.replace(/^\s+/, "");
      if (textWidth(cut) <= room) { return cut; }
    }
    return text.slice(0, 1) + "…";
  }
  function shortLabels(labels, room) {
    var shares = [0.4, 0.2, 0];  // more of the end each time two names still read the same
    var out = labels.map(function (l) { return cutMiddle(String(l), room, shares[0]); });
    for (var s = 1; s < shares.length; s++) {
      var seen = {}, same = {};
      out.forEach(function (l, i) { if (seen[l] !== undefined && labels[seen[l]] !== labels[i]) { same[l] = true; } seen[l] = i; });
      if (!Object.keys(same).length) { break; }
      out = out.map(function (l, i) { return same[l] ? cutMiddle(String(labels[i]), room, shares[s]) : l; });
    }
    return out;
  }

  function hourStep(count, width, labelWidth) {
    var steps = [6, 12, 24];
    for (var i = 0; i < steps.length; i++) {  // 60 px: the value axis
      if ((width - 60) / Math.ceil(count / steps[i]) >= labelWidth) { return steps[i]; }
    }
    return steps[steps.length - 1];
  }

  function option(kind, d, width) {
    var narrow = width < NARROW;
    var base = { color: PALETTE, tooltip: { renderMode: "richText", confine: true, trigger: kind === "pie" ? "item" : "axis",
                                            valueFormatter: number },
                 // The right margin leaves room for the value written after the longest bar (not in containLabel).
                 grid: { left: 8, right: kind === "hbar" ? 64 : 32, top: 24, bottom: 8, containLabel: true },
                 animationDuration: 300 };
    if (kind === "line") {
      // Narrow, "04/12 05:00" takes two lines (day over hour) so that more of them fit.
      base.xAxis = { type: "category", data: d.labels,
                     axisLabel: { interval: hourStep(d.labels.length, width, narrow ? HOUR_LABEL_WIDTH_TWO_LINES : HOUR_LABEL_WIDTH) - 1,
                                  lineHeight: 14, formatter: function (v) { return narrow ? String(v).replace(" ", "\n") : v; } } };
      base.yAxis = { type: "value", minInterval: 1, axisLabel: { formatter: number } };
      // The current hour (or day) is still counting: its bar is drawn lighter, with a dashed outline, so that its
      // smaller count does not read as a drop. It is a series of its own, named in a legend above the plot at its
      // right: a label over the bar itself covered the bars beside it on a phone and was cut at the chart's edge.
      var inProgress = typeof d.in_progress === "number" ? d.in_progress : -1;
      var inProgressName = root.getAttribute("data-in-progress") || "…";
      var inProgressStyle = { color: "rgba(29, 78, 216, 0.35)", borderColor: PALETTE[0], borderType: "dashed", borderWidth: 1 };
      base.series = [{ type: "bar", barMaxWidth: 14, barGap: "-100%", data: d.values.map(function (v, i) {
        return i === inProgress ? { value: v, itemStyle: inProgressStyle } : v;
      }) }];
      if (inProgress >= 0) {
        // An empty series drawn in the same style: only its legend entry shows, naming the lighter bar.
        base.series.push({ type: "bar", name: inProgressName, barMaxWidth: 14, barGap: "-100%", itemStyle: inProgressStyle,
                           data: d.values.map(function () { return "-"; }) });
        base.legend = { data: [inProgressName], top: 0, right: 8, itemWidth: 14, itemHeight: 10, selectedMode: false,
                        textStyle: { fontSize: 11, color: "#374151" } };
      }
      // One line per bar: its time and its count ("in progress" for the last), whichever series holds it.
      base.tooltip.formatter = function (params) {
        var p = params[0], i = p.dataIndex;
        return d.labels[i] + (i === inProgress ? " (" + inProgressName + ")" : "") + "\n" + number(d.values[i]);
      };
    } else if (kind === "hbar") {
      // On a phone the value axis has no room for its numbers: each bar writes its own.
      base.xAxis = { type: "value", minInterval: 1, axisLabel: { show: !narrow, formatter: number } };
      var room = Math.min(200, Math.round(width * 0.4));
      var names = d.labels.slice().reverse(), shortNames = shortLabels(names, room - 8);  // ECharts cuts what nearly fills the room
      base.yAxis = { type: "category", data: names,
                     axisLabel: { width: room, overflow: "truncate",
                                  formatter: function (value, index) { return shortNames[index] !== undefined ? shortNames[index] : value; } } };
      // An organization's bar is named by its code: the tooltip (and the figures under the chart) give its whole name.
      var fullNames = (d.names || d.labels).slice().reverse();
      base.tooltip.formatter = function (params) {
        var p = params[0];
        return fullNames[p.dataIndex] + (fullNames[p.dataIndex] !== names[p.dataIndex] ? " (" + names[p.dataIndex] + ")" : "") + "\n" + number(p.value);
      };
      base.series = [{ type: "bar", data: d.values.slice().reverse(), barMaxWidth: 20, label: { show: true, position: "right",
                                                                                     formatter: function (p) { return number(p.value); } } }];
    } else {
      var counts = {};
      d.labels.forEach(function (label, i) { counts[label] = d.values[i]; });
      // Each slice names its count: "Live: 12" reads without hovering; on a phone in the legend, which wraps.
      base.legend = narrow ? { bottom: 0, type: "plain", itemGap: 6, formatter: function (name) { return name + ": " + number(counts[name]); } }
                           : { bottom: 0, type: "scroll" };
      base.series = [{ type: "pie", radius: narrow ? ["34%", "60%"] : ["35%", "65%"], center: ["50%", narrow ? "38%" : "50%"],
                      label: { show: !narrow, formatter: function (p) { return p.name + ": " + number(p.value); } },
                      labelLine: { show: !narrow },
                      data: d.labels.map(function (label, i) {
        var item = { name: label, value: d.values[i] };
        if (d.keys && SEVERITY[d.keys[i]]) { item.itemStyle = { color: SEVERITY[d.keys[i]] }; }
        return item;
      }).filter(function (item) { return item.value > 0; }) }];
    }
    var empty = !d.values.some(function (v) { return v > 0; });
    if (empty) {
      base.title = { text: root.getAttribute("data-empty") || "—", left: "center", top: "middle",
                     textStyle: { color: "#666d7b", fontSize: 13, fontWeight: "normal" } };
    }
    return base;
  }

  function cell(row, text, href, cls) {
    var td = document.createElement("td");
    if (cls) { td.className = cls; }
    if (href) { var a = document.createElement("a"); a.href = href; a.textContent = text; td.appendChild(a); }
    else { td.textContent = text; }
    row.appendChild(td);
  }

  // Severity 0–10 in the bands of the platform (models.SEVERITY_BANDS, telemetry/_severity.html).
  function severityBand(value) { return value <= 3 ? "low" : value <= 6 ? "medium" : value <= 8 ? "high" : "critical"; }
  function badge(cls, text) { var span = document.createElement("span"); span.className = cls; span.textContent = text; return span; }

  function fillTable(id, rows, build) {
    var body = document.getElementById(id);
    if (!body) { return; }
    if (!rows.length) {
      // Nothing any more (a campaign closed): the table says so rather than keeping the rows of an earlier update.
      if (body.getAttribute("data-empty") && !body.querySelector("td[colspan]")) {
        while (body.firstChild) { body.removeChild(body.firstChild); }
        var tr = document.createElement("tr"), td = document.createElement("td");
        td.colSpan = body.parentNode.querySelectorAll("thead th").length; td.className = "muted";
        td.textContent = body.getAttribute("data-empty");
        tr.appendChild(td); body.appendChild(tr);
      }
      return;
    }
    while (body.firstChild) { body.removeChild(body.firstChild); }
    // Each cell carries its column's name, which a phone writes before the value (telemetry.css .tele-stack).
    var heads = [];
    body.parentNode.querySelectorAll("thead th").forEach(function (th) { heads.push(th.textContent.trim()); });
    rows.forEach(function (r) {
      var tr = document.createElement("tr");
      build(tr, r);
      Array.prototype.forEach.call(tr.children, function (td, i) { if (heads[i]) { td.setAttribute("data-label", heads[i]); } });
      body.appendChild(tr);
    });
  }

  function render(data) {
    Object.keys(data.kpis).forEach(function (k) {
      var el = root.querySelector('[data-kpi="' + k + '"]');
      // A figure counted up to its cap reads "more than 10,000" (kpi_texts), as the server wrote it.
      if (el) { el.textContent = (data.kpi_texts && data.kpi_texts[k]) || numberFormat.format(Number(data.kpis[k])); }
    });
    // Each key figure opens the list it counts (the links move with the time range); its colour follows its value:
    // amber for a figure to act on above 0, green for the sources sending while some do.
    root.querySelectorAll("[data-kpi-link]").forEach(function (a) {
      var key = a.getAttribute("data-kpi-link");
      var href = data.kpi_links && data.kpi_links[key];
      if (href) { a.setAttribute("href", href); }
      var tone = a.getAttribute("data-kpi-tone");
      if (tone) { a.classList.toggle(tone, Number(data.kpis[key]) > 0); }
    });
    // The figures beside the tiles ("X / Y connected", the alerts nobody has taken yet): data-figure names their path.
    root.querySelectorAll("[data-figure]").forEach(function (el) {
      var value = el.getAttribute("data-figure").split(".").reduce(function (o, k) { return o ? o[k] : undefined; }, data);
      if (typeof value === "number") { el.textContent = numberFormat.format(value); }
      else if (typeof value === "string") { el.textContent = value; }
    });
    var gen = document.getElementById("tele-generated");
    if (gen) { gen.textContent = shownTime(data.generated, true); gen.setAttribute("datetime", data.generated); }
    if (window.echarts) {
      root.querySelectorAll("[data-tele-chart]").forEach(function (el) {
        var key = el.getAttribute("data-tele-chart");
        if (!data[key]) { return; }
        if (!charts[key]) {
          charts[key] = window.echarts.init(el);
          // A chart whose data carries links (an hour, an organization) opens the events behind a bar or point.
          charts[key].on("click", function (p) {
            var links = latest[key] && latest[key].links;
            if (!links) { return; }
            // Horizontal bars are drawn largest at the top: their data is reversed (see option()).
            var index = el.getAttribute("data-kind") === "hbar" ? links.length - 1 - p.dataIndex : p.dataIndex;
            if (links[index]) { window.location.href = links[index]; }
          });
        }
        latest[key] = data[key];
        charts[key].setOption(option(el.getAttribute("data-kind"), data[key], el.clientWidth), true);
      });
    } else {
      // Without the charting library (assets not installed): the same figures as a table in each chart's place.
      root.querySelectorAll("[data-tele-chart]").forEach(function (el) {
        var d = data[el.getAttribute("data-tele-chart")];
        if (!d) { return; }
        var table = document.createElement("table");
        table.className = "list compact";
        var body = document.createElement("tbody");
        d.labels.forEach(function (label, i) {
          if (!d.values[i]) { return; }
          var tr = document.createElement("tr");
          cell(tr, label, d.links && d.links[i]); cell(tr, number(d.values[i]), null, "num");
          body.appendChild(tr);
        });
        if (!body.firstChild) { var tr = document.createElement("tr"); cell(tr, root.getAttribute("data-empty") || "—"); body.appendChild(tr); }
        table.appendChild(body);
        el.classList.add("tele-chart-table");
        while (el.firstChild) { el.removeChild(el.firstChild); }
        el.appendChild(table);
      });
    }
    // The figures under each bar chart: whole names, the organization's code, the count; each opens its events.
    ["sectors", "provinces", "targeted", "categories"].forEach(function (key) {
      var d = data[key], body = document.getElementById("tele-numbers-" + key);
      if (!d || !body) { return; }
      var rows = d.labels.map(function (label, i) { return { name: (d.names || d.labels)[i], label: label, value: d.values[i], url: d.links && d.links[i] }; });
      var withCode = body.getAttribute("data-code") === "1";
      fillTable("tele-numbers-" + key, rows, function (tr, r) {
        cell(tr, r.name, r.url, "wrap-long");
        if (withCode) { cell(tr, r.label, null, "nowrap"); }
        cell(tr, number(r.value), null, "num");
      });
    });
    fillTable("tele-indicators", data.indicators.rows, function (tr, r) {
      cell(tr, r.value, r.url, "wrap-long"); cell(tr, r.kind); cell(tr, number(r.hits), null, "num"); cell(tr, number(r.organizations), null, "num");
    });
    fillTable("tele-campaigns", data.campaigns, function (tr, c) {
      cell(tr, c.title, c.url, "wrap-long");
      cell(tr, ""); tr.lastChild.appendChild(badge("sev sev-" + severityBand(c.severity), c.severity_text));
      cell(tr, ""); tr.lastChild.appendChild(badge("tele-status cs-" + c.status, c.status_label));
      cell(tr, number(c.organizations), null, "num"); cell(tr, number(c.count), null, "num");
      var when = document.createElement("time");
      when.setAttribute("datetime", c.last_seen); when.textContent = shownTime(c.last_seen, false);
      cell(tr, "", null, "nowrap"); tr.lastChild.appendChild(when);
    });
  }

  // A refresh that fails keeps the last picture, but says so: a banner with the reason (the session ended: a link to
  // sign in again; the server out of reach; an error), the time of the last successful update and how long ago it
  // was, the "Updated" time in red. The next successful refresh takes it all away.
  var banner = document.getElementById("tele-stale");
  var updated = document.getElementById("tele-updated");
  var lastSuccess = null;  // ISO time of the figures shown
  var relative = window.Intl && Intl.RelativeTimeFormat ? new Intl.RelativeTimeFormat(document.documentElement.lang || undefined, { numeric: "always" }) : null;
  function since(iso) {
    var then = Date.parse(iso || "");  // ISO 8601 with its offset
    if (isNaN(then)) { return ""; }
    var seconds = Math.max(0, Math.round((Date.now() - then) / 1000));
    var value = seconds < 60 ? [-seconds, "second"] : seconds < 3600 ? [-Math.floor(seconds / 60), "minute"] : [-Math.floor(seconds / 3600), "hour"];
    return relative ? relative.format(value[0], value[1]) : shownTime(iso, true);
  }
  function showStale(reason) {
    root.classList.add("is-stale");
    if (updated) { updated.classList.add("stale"); }
    if (!banner) { return; }
    banner.setAttribute("data-state", reason);
    banner.querySelectorAll("[data-reason]").forEach(function (el) { el.hidden = el.getAttribute("data-reason") !== reason; });
    var at = document.getElementById("tele-stale-at");
    if (at) { at.textContent = shownTime(lastSuccess, true); at.setAttribute("datetime", lastSuccess || ""); }
    tick();
    banner.hidden = false;
  }
  function tick() {
    var ago = document.getElementById("tele-stale-ago");
    if (ago && root.classList.contains("is-stale")) { ago.textContent = since(lastSuccess); }
  }
  function showFresh() {
    root.classList.remove("is-stale");
    if (updated) { updated.classList.remove("stale"); }
    if (banner) { banner.hidden = true; banner.removeAttribute("data-state"); }
  }
  function refresh() {
    fetch(root.getAttribute("data-url"), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) {
        // Signed out: the view answers 401; a sign-in page reached by a redirect (a proxy, an older server) too.
        var json = (r.headers.get("Content-Type") || "").indexOf("application/json") === 0;
        if (r.status === 401 || r.status === 403 || (r.redirected && !json)) { showStale("signed_out"); return null; }
        if (!r.ok || !json) { showStale("error"); return null; }
        return r.json();
      })
      .then(function (data) {
        if (!data) { return; }
        render(data); lastSuccess = data.generated; showFresh();
      })
      .catch(function () { showStale("offline"); });
  }

  var first = document.getElementById("tele-data");
  function start() {
    if (first) { var initial = JSON.parse(first.textContent); render(initial); lastSuccess = initial.generated; }
    var every = parseInt(root.getAttribute("data-refresh"), 10) || 30;
    window.setInterval(refresh, every * 1000);
    window.setInterval(tick, 10000);  // "2 minutes ago" keeps counting between refreshes
    // A new width may call for other labels (fewer hours, a legend): draw again once the resizing stops.
    var resizing;
    window.addEventListener("resize", function () {
      window.clearTimeout(resizing);
      resizing = window.setTimeout(function () {
        root.querySelectorAll("[data-tele-chart]").forEach(function (el) {
          var key = el.getAttribute("data-tele-chart");
          if (!charts[key] || !latest[key]) { return; }
          charts[key].resize();
          var redraw = option(el.getAttribute("data-kind"), latest[key], el.clientWidth);
          redraw.animation = false;
          charts[key].setOption(redraw, true);
        });
      }, 150);
    });
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
}());

// Events search: a download of up to 100,000 events takes a while to start; the links say so while it is prepared
// (without JavaScript they are plain links, and the note beside them gives the expected time).
(function () {
  "use strict";
  var bar = document.getElementById("event-export");
  if (!bar) { return; }
  var status = document.getElementById("event-export-status");
  var links = bar.querySelectorAll("a[data-export]");
  var BUSY_MS = 15000;  // the file streams: the browser's own download shows the rest
  var busy = false;
  function setBusy(on) {
    busy = on;
    links.forEach(function (a) {
      if (on) { a.setAttribute("aria-disabled", "true"); } else { a.removeAttribute("aria-disabled"); }
      a.classList.toggle("is-busy", on);
    });
    if (status) { status.textContent = on ? (bar.getAttribute("data-busy") || "") : ""; }
  }
  links.forEach(function (a) {
    a.addEventListener("click", function (event) {
      if (busy) { event.preventDefault(); return; }  // one file at a time: a second click would start it again
      setBusy(true);
      window.setTimeout(function () { setBusy(false); }, BUSY_MS);
    });
  });
}());
