/* Registry lookup as you type: the form's results section is re-rendered from
 * data-results-url?q=... after each pause in typing; an answer to an older keystroke is
 * dropped. Without this file the form submits as an ordinary GET. */
(function () {
  "use strict";

  var DELAY_MS = 120;

  function Lookup(form) {
    this.input = form.querySelector("input[name=q]");
    this.target = document.getElementById(this.input.getAttribute("aria-controls"));
    this.url = form.getAttribute("data-results-url");
    this.asked = 0;
    this.timer = null;
    if (!this.input || !this.target || !this.url || !window.fetch) { return; }
    var self = this;
    this.input.addEventListener("input", function () {
      window.clearTimeout(self.timer);
      self.timer = window.setTimeout(function () { self.ask(); }, DELAY_MS);
    });
  }

  Lookup.prototype.ask = function () {
    var self = this;
    var text = this.input.value;
    var number = ++this.asked;
    window.fetch(this.url + "?q=" + encodeURIComponent(text), {
      credentials: "same-origin", headers: { Accept: "text/html" }
    })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (html === null || number !== self.asked) { return; }
        self.target.innerHTML = html;  // rendered (and escaped) by the server's template
        self.target.setAttribute("data-updated", String(number));
        if (window.history && window.history.replaceState) {
          window.history.replaceState(null, "", "?q=" + encodeURIComponent(text));
        }
      })
      .catch(function () { /* the form still submits */ });
  };

  document.querySelectorAll("form[data-asset-lookup]").forEach(function (form) {
    new Lookup(form);
  });
})();
