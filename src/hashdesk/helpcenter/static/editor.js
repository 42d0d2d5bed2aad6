/* Help-center editor: live preview while the agent types.
 *
 * The page works without this file (its Preview button posts the form). With it, the
 * Markdown is sent, a moment after the last key press, to the preview endpoint, which
 * renders it through the same sanitiser as the public page; the answer is safe HTML.
 */
(function () {
  "use strict";

  var DELAY_MS = 350;

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  function LivePreview(source) {
    this.source = source;
    this.target = document.getElementById(source.getAttribute("data-preview-target"));
    this.url = source.getAttribute("data-preview-url");
    this.timer = null;
    this.sent = 0;
    if (!this.target || !this.url) { return; }
    var self = this;
    source.addEventListener("input", function () {
      window.clearTimeout(self.timer);
      self.timer = window.setTimeout(function () { self.refresh(); }, DELAY_MS);
    });
  }

  LivePreview.prototype.refresh = function () {
    var self = this;
    var ticket = ++this.sent;  // only the newest answer is shown
    var body = new URLSearchParams();
    body.set("body", this.source.value);
    this.target.setAttribute("aria-busy", "true");
    fetch(this.url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRF-Token": csrfToken(), "Accept": "application/json" },
      body: body
    })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      })
      .then(function (data) {
        if (ticket !== self.sent) { return; }
        self.target.innerHTML = data.html;  // sanitised by the server (render_markdown)
        self.target.removeAttribute("data-preview-stale");
      })
      .catch(function () {
        self.target.setAttribute("data-preview-stale", "true");
      })
      .then(function () { self.target.removeAttribute("aria-busy"); });
  };

  function init() {
    Array.prototype.forEach.call(
      document.querySelectorAll("[data-preview-url]"),
      function (source) { new LivePreview(source); }
    );
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
}());
