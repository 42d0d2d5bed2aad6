/* HashDesk pages: small progressive enhancements, no framework.
 *
 * Every page works without this file; with it, lists and timelines update live, the ticket
 * form shows only the fields of the chosen category, and a few controls get nicer.
 * The Content-Security-Policy allows only this file: no inline scripts or handlers.
 */
(function () {
  "use strict";

  // Event names the server sends on /api/v1/stream (see tickets/actions.py _announce).
  var TICKET_EVENTS = [
    "ticket.created", "ticket.replied", "ticket.noted", "ticket.status_changed",
    "ticket.assigned", "ticket.priority_changed", "ticket.handed_off", "ticket.merged",
    "ticket.updated", "message"
  ];
  var REFRESH_DELAY_MS = 300;

  function each(selector, fn, root) {
    Array.prototype.forEach.call((root || document).querySelectorAll(selector), fn);
  }

  // --- language picker: submit on change -------------------------------------------------
  function initAutosubmit() {
    each("[data-autosubmit]", function (select) {
      select.addEventListener("change", function () {
        if (select.form) { select.form.submit(); }
      });
    });
  }

  // --- live regions ----------------------------------------------------------------------
  // <section data-live-src="fragment url" data-live-stream="event stream url">
  //   <div data-live-body>...</div></section>
  // The stream says *that* something changed; the fragment says *what* we may see.
  function LiveRegion(region) {
    this.region = region;
    this.body = region.querySelector("[data-live-body]") || region;
    this.src = region.getAttribute("data-live-src");
    this.status = document.querySelector("[data-live-status]");
    this.timer = null;
    this.inFlight = false;
    this.again = false;
    this.opened = false;
    this.connect(region.getAttribute("data-live-stream"));
  }

  LiveRegion.prototype.connect = function (url) {
    if (!url || !window.EventSource) { return; }
    var self = this;
    var source = new EventSource(url, { withCredentials: true });
    // A region may name the events it refreshes on (data-live-events="a b"); default: tickets.
    var named = (this.region.getAttribute("data-live-events") || "").split(" ").filter(Boolean);
    (named.length ? named : TICKET_EVENTS).forEach(function (name) {
      source.addEventListener(name, function () { self.schedule(); });
    });
    source.addEventListener("open", function () {
      // After a reconnect we may have missed events: fetch once to catch up.
      if (self.opened) { self.schedule(); }
      self.opened = true;
      self.region.setAttribute("data-live-connected", "true");
    });
    source.addEventListener("error", function () {
      self.region.setAttribute("data-live-connected", "false");
      self.say("data-text-offline");
    });
    window.addEventListener("pagehide", function () { source.close(); });
  };

  LiveRegion.prototype.schedule = function () {
    var self = this;
    window.clearTimeout(this.timer);
    this.timer = window.setTimeout(function () { self.refresh(); }, REFRESH_DELAY_MS);
  };

  LiveRegion.prototype.refresh = function () {
    var self = this;
    if (this.inFlight) { this.again = true; return; }
    this.inFlight = true;
    this.region.setAttribute("aria-busy", "true");
    fetch(this.src, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.text();
      })
      .then(function (html) {
        // The fragment is our own server-rendered, autoescaped HTML.
        self.body.innerHTML = html;
        self.region.setAttribute("data-live-updated", String(Date.now()));
        self.say("data-text-updated");
      })
      .catch(function () { self.say("data-text-offline"); })
      .then(function () {
        self.inFlight = false;
        self.region.removeAttribute("aria-busy");
        if (self.again) { self.again = false; self.schedule(); }
      });
  };

  LiveRegion.prototype.say = function (attribute) {
    if (this.status && this.status.getAttribute(attribute)) {
      this.status.textContent = this.status.getAttribute(attribute);
    }
  };

  function initLiveRegions() {
    each("[data-live-src]", function (region) { new LiveRegion(region); });
  }

  // --- the ticket form: only the chosen category's fields ----------------------------------
  function initCategoryFields() {
    var select = document.querySelector("[data-category-select]");
    if (!select) { return; }
    var fieldset = document.querySelector("[data-structured-fields]");
    function words(option, name) {
      var value = option ? option.getAttribute(name) || "" : "";
      return value.split(" ").filter(Boolean);
    }
    function apply() {
      var option = select.options[select.selectedIndex];
      var shown = words(option, "data-fields");
      var required = words(option, "data-required");
      each("[data-ticket-field]", function (wrapper) {
        var name = wrapper.getAttribute("data-ticket-field");
        var visible = shown.indexOf(name) !== -1;
        wrapper.hidden = !visible;
        each("input, select, textarea", function (control) {
          // Hidden fields are disabled so that they are not sent with the form.
          control.disabled = !visible;
          control.required = visible && required.indexOf(name) !== -1;
        }, wrapper);
        each("[data-required-mark]", function (mark) {
          mark.hidden = required.indexOf(name) === -1;
        }, wrapper);
      });
      if (fieldset) { fieldset.hidden = shown.length === 0; }
    }
    select.addEventListener("change", apply);
    apply();
  }

  // --- the ticket form: articles that may answer it, as the trader writes -------------------
  // <section data-suggested-articles data-search-url data-locale hidden><ul data-suggested-list>
  // Asks the help-center search with the subject and the start of the description (debounced;
  // an answer to older text is dropped) and lists the best few, opening in a new tab.
  var SUGGEST_DELAY_MS = 400;
  var SUGGEST_MIN_CHARS = 8;
  var SUGGEST_COUNT = 3;
  var SUGGEST_DESCRIPTION_CHARS = 300;

  function initSuggestedArticles() {
    var section = document.querySelector("[data-suggested-articles]");
    var subject = document.getElementById("subject");
    var description = document.getElementById("description");
    var list = section ? section.querySelector("[data-suggested-list]") : null;
    if (!section || !subject || !list || !window.fetch) { return; }
    var timer = null;
    var asked = 0;
    var lastText = "";
    function text() {
      var more = description ? description.value.slice(0, SUGGEST_DESCRIPTION_CHARS) : "";
      return (subject.value + " " + more).trim();
    }
    function show(hits) {
      list.textContent = "";
      hits.slice(0, SUGGEST_COUNT).forEach(function (hit) {
        var item = document.createElement("li");
        var link = document.createElement("a");
        link.href = hit.url;
        link.target = "_blank";
        link.rel = "noopener";
        link.lang = hit.locale;
        link.textContent = hit.title;
        link.setAttribute("data-testid", "suggested-article");
        item.appendChild(link);
        list.appendChild(item);
      });
      section.hidden = list.children.length === 0;
    }
    function ask() {
      var wanted = text();
      if (wanted === lastText) { return; }
      lastText = wanted;
      if (subject.value.trim().length < SUGGEST_MIN_CHARS) { show([]); return; }
      var number = ++asked;
      var address = section.getAttribute("data-search-url") + "?q=" + encodeURIComponent(wanted) +
        "&locale=" + encodeURIComponent(section.getAttribute("data-locale")) + "&limit=" + SUGGEST_COUNT;
      window.fetch(address, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (answer) { if (number === asked && answer) { show(answer.hits || []); } })
        .catch(function () { /* a convenience: the form still sends */ });
    }
    function schedule() {
      window.clearTimeout(timer);
      timer = window.setTimeout(ask, SUGGEST_DELAY_MS);
    }
    subject.addEventListener("input", schedule);
    if (description) { description.addEventListener("input", schedule); }
    ask();  // a form sent back with errors, or prefilled by a link, already has a subject
  }

  // --- console: internal-note toggle, macro preview, confirmations --------------------------
  function initReplyForm() {
    each("[data-reply-form]", function (form) {
      var toggle = form.querySelector("[data-internal-toggle]");
      if (!toggle) { return; }
      function apply() {
        var internal = toggle.checked;
        form.classList.toggle("is-internal", internal);
        each("[data-label-public]", function (node) {
          node.textContent = node.getAttribute(internal ? "data-label-internal" : "data-label-public");
        }, form);
      }
      toggle.addEventListener("change", apply);
      apply();
    });
  }

  function initMacroPreview() {
    each("[data-macro-select]", function (select) {
      var preview = select.form && select.form.querySelector("[data-macro-preview]");
      if (!preview) { return; }
      select.addEventListener("change", function () {
        var option = select.options[select.selectedIndex];
        var body = option ? option.getAttribute("data-body") || "" : "";
        preview.textContent = body;  // text, never HTML
        preview.hidden = !body;
      });
    });
  }

  function initConfirm() {
    each("form[data-confirm]", function (form) {
      form.addEventListener("submit", function (event) {
        if (!window.confirm(form.getAttribute("data-confirm"))) { event.preventDefault(); }
      });
    });
  }

  function initCopy() {
    if (!navigator.clipboard) { return; }
    each("[data-copy]", function (button) {
      var target = document.querySelector(button.getAttribute("data-copy"));
      if (!target) { return; }
      button.hidden = false;
      button.addEventListener("click", function () {
        var text = (target.firstChild && target.firstChild.nodeType === 3 ? target.firstChild.nodeValue : target.textContent).trim();
        navigator.clipboard.writeText(text).then(function () {
          var original = button.textContent;
          button.textContent = button.getAttribute("data-text-copied") || original;
          window.setTimeout(function () { button.textContent = original; }, 1500);
        });
      });
    });
  }

  // Bring the first error into view so keyboard and screen-reader users land on it.
  function focusErrors() {
    var summary = document.querySelector("[data-testid='form-errors']");
    if (summary) { summary.focus(); }
  }

  function init() {
    initAutosubmit();
    initCategoryFields();
    initSuggestedArticles();
    initReplyForm();
    initMacroPreview();
    initConfirm();
    initCopy();
    initLiveRegions();
    focusErrors();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
