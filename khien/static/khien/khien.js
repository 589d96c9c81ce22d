// Small progressive enhancements; every page works without them.
// (No inline scripts anywhere: the Content-Security-Policy forbids them.)
document.addEventListener("click", function (event) {
  var el = event.target.closest("[data-confirm]");
  if (el && !window.confirm(el.getAttribute("data-confirm"))) {
    event.preventDefault();
  }
});

// A "tick all" box (data-pick-all="name") ticks or clears every enabled box of that name in its form.
document.addEventListener("change", function (event) {
  var all = event.target.closest("[data-pick-all]");
  if (!all || !all.form) return;
  var boxes = all.form.querySelectorAll('input[type="checkbox"][name="' + all.getAttribute("data-pick-all") + '"]');
  boxes.forEach(function (box) { if (!box.disabled) box.checked = all.checked; });
});

// A form that takes long (a large import) says so once sent: data-busy="text" on the form puts the text in its
// status line (role="status", announced) and disables its submit button, so it is not sent twice.
document.addEventListener("submit", function (event) {
  var form = event.target;
  if (!form.hasAttribute || !form.hasAttribute("data-busy") || event.defaultPrevented) return;
  var status = form.querySelector("[data-busy-status]");
  if (status) status.textContent = form.getAttribute("data-busy");
  form.setAttribute("aria-busy", "true");
  window.setTimeout(function () {  // after the browser has taken the submission
    form.querySelectorAll('button[type="submit"]').forEach(function (b) { b.disabled = true; });
  }, 0);
});
