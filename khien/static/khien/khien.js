// Small progressive enhancements; every page works without them.
// (No inline scripts anywhere: the Content-Security-Policy forbids them.)
// A form that the server also confirms without JavaScript (a page of its own) is told the dialog was answered:
// `confirmed=1` goes with it, so the question is not asked twice.
document.addEventListener("click", function (event) {
  var el = event.target.closest("[data-confirm]");
  if (!el) return;
  if (!window.confirm(el.getAttribute("data-confirm"))) {
    event.preventDefault();
    return;
  }
  if (el.form && el.hasAttribute("data-confirmed-field") && !el.form.querySelector('input[name="confirmed"]')) {
    var field = document.createElement("input");
    field.type = "hidden"; field.name = "confirmed"; field.value = "1";
    el.form.appendChild(field);
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

// The outcome of an action where the person acted. Many actions send the browser back to a part of a long page
// (/systems/<id>/#dossier, /organizations/<id>/#members): the messages the server drew at the top of the page
// (#messages, role="alert" for a refusal, else "status") are moved to the start of that part, under its heading,
// where the page opens, instead of staying above the screen. Without this script they stay at the top.
(function () {
  var box = document.getElementById("messages");
  var id = window.location.hash.slice(1);
  if (!box || !id) return;
  var target;
  try { target = document.getElementById(decodeURIComponent(id)); } catch (e) { return; }
  if (!target || target.contains(box) || box.contains(target)) return;
  var heading = /^H[1-6]$/;
  var holds = /^(SECTION|ARTICLE|ASIDE|DIV|FORM|FIELDSET|DETAILS|LI|TD|TH|DD)$/;
  var first = target.firstElementChild;
  if (holds.test(target.tagName)) {
    if (target.tagName === "DETAILS") target.open = true;
    if (first && (heading.test(first.tagName) || first.tagName === "SUMMARY")) first.after(box);
    else target.prepend(box);
  } else {
    target.after(box);  // a heading, a list, a table, a button: right below it
  }
  // The browser keeps the anchor at the top of the screen while the page loads; should the message still be out of
  // sight then (below a tall list), it is brought into view.
  function show() {
    var r = box.getBoundingClientRect();
    if (r.top < 0 || r.bottom > window.innerHeight) box.scrollIntoView({block: "nearest"});
  }
  if (document.readyState === "complete") show(); else window.addEventListener("load", show);
})();
