// Small progressive enhancements; every page works without them.
// (No inline scripts anywhere: the Content-Security-Policy forbids them.)
document.addEventListener("click", function (event) {
  var el = event.target.closest("[data-confirm]");
  if (el && !window.confirm(el.getAttribute("data-confirm"))) {
    event.preventDefault();
  }
});
