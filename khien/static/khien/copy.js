// A "Copy" button for a value shown once (a new source key): data-copy="ID" names the element holding the text.
// Without this script the button stays hidden and the value is selected and copied by hand, as any text. Served by
// the platform itself (no CDN), no inline script (the Content-Security-Policy forbids them).
(function () {
  function say(button, text) {
    var status = document.getElementById(button.getAttribute("data-copy-status"));
    if (status) status.textContent = text;
  }

  function selectText(element) {
    var range = document.createRange();
    range.selectNodeContents(element);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  function fallback(button, element) {
    // Off HTTPS (a plain-http address on the internal network) the Clipboard API is missing: the older command.
    selectText(element);
    var done = false;
    try { done = document.execCommand("copy"); } catch (e) { done = false; }
    say(button, button.getAttribute(done ? "data-copied" : "data-copy-failed"));
  }

  document.querySelectorAll("[data-copy]").forEach(function (button) {
    var element = document.getElementById(button.getAttribute("data-copy"));
    if (!element) return;
    button.hidden = false;
    button.addEventListener("click", function () {
      var text = element.textContent.trim();
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(function () {
          say(button, button.getAttribute("data-copied"));
        }, function () { fallback(button, element); });
      } else {
        fallback(button, element);
      }
    });
  });
})();
