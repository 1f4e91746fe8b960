// Reloads a page that asks for it (data-autorefresh="seconds" on <body>),
// unless the operator is typing in a form field or the tab is hidden.
(function () {
  "use strict";
  var seconds = parseInt(document.body.getAttribute("data-autorefresh"), 10);
  if (!(seconds > 0)) {
    return;
  }
  window.setInterval(function () {
    var a = document.activeElement;
    var typing = a && (a.tagName === "INPUT" || a.tagName === "TEXTAREA" || a.tagName === "SELECT");
    if (!document.hidden && !typing) {
      window.location.reload();
    }
  }, seconds * 1000);
})();
