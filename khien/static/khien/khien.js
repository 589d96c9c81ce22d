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
