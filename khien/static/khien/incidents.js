// Live countdowns of incident deadlines. Each <span class="countdown" data-due="ISO time">
// shows the time left (or overdue) and is updated every second. The labels come from
// data attributes written by the server in the user's language. No inline scripts (CSP).
(function () {
  "use strict";

  function pad(n) { return n < 10 ? "0" + n : String(n); }

  function format(ms, dayUnit) {
    var s = Math.floor(ms / 1000);
    var days = Math.floor(s / 86400);
    s -= days * 86400;
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    var clock = pad(h) + ":" + pad(m) + ":" + pad(sec);
    return days > 0 ? days + " " + dayUnit + " " + clock : clock;
  }

  function update(el, now) {
    var due = Date.parse(el.getAttribute("data-due"));
    if (isNaN(due)) { return; }
    var diff = due - now;
    var over = diff < 0;
    var label = el.getAttribute(over ? "data-label-over" : "data-label-left") || "%s";
    el.textContent = label.replace("%s", format(Math.abs(diff), el.getAttribute("data-unit-day") || "d"));
    el.classList.toggle("over", over);
    el.classList.toggle("soon", !over && diff < 3600 * 1000);
  }

  function tick() {
    var now = Date.now();
    var els = document.querySelectorAll(".countdown[data-due]");
    for (var i = 0; i < els.length; i++) { update(els[i], now); }
  }

  function start() {
    tick();
    window.setInterval(tick, 1000);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
