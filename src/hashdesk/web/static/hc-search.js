/* Help-center search as you type: the ARIA 1.2 combobox pattern, no framework.
 *
 * <form data-hc-search data-suggest-url=... data-locale=...> holds an <input role=combobox>
 * and its <ul role=listbox>. Typing asks /api/v1/helpcenter/suggest (debounced; an answer
 * to an older keystroke is dropped); Down/Up move through the options, Enter opens the
 * chosen article (or, with none chosen, submits the form to the results page), Escape
 * closes the list (a second Escape clears the box). Without this file the form still works.
 */
(function () {
  "use strict";

  var DELAY_MS = 120;
  var MIN_CHARS = 2;

  function SearchBox(form) {
    this.form = form;
    this.input = form.querySelector("[role=combobox]");
    this.listbox = form.querySelector("[role=listbox]");
    this.status = form.querySelector("[data-hc-search-status]");
    this.url = form.getAttribute("data-suggest-url");
    this.locale = form.getAttribute("data-locale");
    this.options = [];
    this.active = -1;
    this.timer = null;
    this.asked = 0;
    if (!this.input || !this.listbox || !this.url || !window.fetch) { return; }
    this.bind();
  }

  SearchBox.prototype.bind = function () {
    var self = this;
    this.input.addEventListener("input", function () { self.schedule(); });
    this.input.addEventListener("keydown", function (event) { self.key(event); });
    this.input.addEventListener("blur", function () {
      // Let a click on an option land before the list goes away.
      window.setTimeout(function () { self.close(); }, 150);
    });
    this.listbox.addEventListener("mousedown", function (event) { event.preventDefault(); });
    this.listbox.addEventListener("click", function (event) {
      var option = event.target.closest ? event.target.closest("[role=option]") : null;
      if (option) { self.open(option); }
    });
  };

  SearchBox.prototype.schedule = function () {
    var self = this;
    window.clearTimeout(this.timer);
    this.timer = window.setTimeout(function () { self.ask(); }, DELAY_MS);
  };

  SearchBox.prototype.ask = function () {
    var self = this;
    var text = this.input.value;
    if (text.trim().length < MIN_CHARS) { this.close(); return; }
    var number = ++this.asked;
    var address = this.url + "?q=" + encodeURIComponent(text) + "&locale=" +
      encodeURIComponent(this.locale) + "&limit=8";
    window.fetch(address, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (answer) {
        if (number === self.asked && answer) { self.show(answer.hits || []); }
      })
      .catch(function () { /* as-you-type is a convenience: the form still submits */ });
  };

  SearchBox.prototype.show = function (hits) {
    var self = this;
    this.listbox.textContent = "";
    this.options = hits.map(function (hit, index) {
      var option = document.createElement("li");
      option.id = "hc-search-option-" + index;
      option.setAttribute("role", "option");
      option.setAttribute("aria-selected", "false");
      option.setAttribute("data-url", hit.url);
      option.setAttribute("lang", hit.locale);
      option.setAttribute("data-testid", "hc-search-option");
      option.className = "hc-search-option";
      option.textContent = hit.title;
      self.listbox.appendChild(option);
      return option;
    });
    this.active = -1;
    this.input.removeAttribute("aria-activedescendant");
    var open = this.options.length > 0;
    this.listbox.hidden = !open;
    this.input.setAttribute("aria-expanded", open ? "true" : "false");
    this.say(open ? this.form.getAttribute("data-text-count").replace("%(count)s", String(this.options.length))
                  : this.form.getAttribute("data-text-none"));
  };

  SearchBox.prototype.say = function (text) {
    if (this.status) { this.status.textContent = text || ""; }
  };

  SearchBox.prototype.close = function () {
    this.listbox.hidden = true;
    this.input.setAttribute("aria-expanded", "false");
    this.input.removeAttribute("aria-activedescendant");
    this.active = -1;
  };

  SearchBox.prototype.move = function (step) {
    if (!this.options.length) { return; }
    if (this.listbox.hidden) { this.listbox.hidden = false; this.input.setAttribute("aria-expanded", "true"); }
    if (this.active >= 0) { this.options[this.active].setAttribute("aria-selected", "false"); }
    var count = this.options.length;
    this.active = this.active < 0 ? (step > 0 ? 0 : count - 1) : (this.active + step + count) % count;
    var option = this.options[this.active];
    option.setAttribute("aria-selected", "true");
    this.input.setAttribute("aria-activedescendant", option.id);
    if (option.scrollIntoView) { option.scrollIntoView({ block: "nearest" }); }
  };

  SearchBox.prototype.open = function (option) {
    window.location.assign(option.getAttribute("data-url"));
  };

  SearchBox.prototype.key = function (event) {
    if (event.key === "ArrowDown") { event.preventDefault(); this.move(1); }
    else if (event.key === "ArrowUp") { event.preventDefault(); this.move(-1); }
    else if (event.key === "Enter" && this.active >= 0 && !this.listbox.hidden) {
      event.preventDefault();
      this.open(this.options[this.active]);
    } else if (event.key === "Escape") {
      // A search input clears itself on Escape; with the list open, only close the list.
      if (!this.listbox.hidden) { event.preventDefault(); this.close(); } else { this.input.value = ""; }
    }
  };

  function init() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-hc-search]"), function (form) {
      if (!form.hcSearch) { form.hcSearch = new SearchBox(form); }
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
