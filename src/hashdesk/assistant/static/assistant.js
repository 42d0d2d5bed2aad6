/* The assistant in the help-center search box: a small panel, no framework.
 *
 * Without this file the panel's form posts to the assistant page. With it, a question is
 * answered in place from /api/v1/assistant/answer (nothing stored), with a link to continue
 * in the assistant and "Talk to a human" always there. When the page has a help-center
 * search box ([data-hc-search] input[name=q]), questions typed there are answered too.
 */
(function () {
  "use strict";

  var TYPE_DELAY_MS = 400;
  var MIN_QUESTION = 12;

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) { node.setAttribute(name, attrs[name]); });
    if (text) { node.textContent = text; }
    return node;
  }

  function Panel(root) {
    this.root = root;
    this.locale = root.getAttribute("data-locale") || "en";
    this.form = root.querySelector("[data-assistant-form]");
    this.input = this.form.querySelector("[name=body]");
    this.result = root.querySelector("[data-assistant-result]");
    this.timer = null;
    this.asked = "";
    var self = this;
    this.form.addEventListener("submit", function (event) {
      event.preventDefault();
      self.ask(self.input.value);
    });
    var search = document.querySelector("[data-hc-search] input[name=q]");
    if (search) {
      search.addEventListener("input", function () {
        window.clearTimeout(self.timer);
        self.timer = window.setTimeout(function () { self.ask(search.value); }, TYPE_DELAY_MS);
      });
    }
  }

  Panel.prototype.text = function (name) {
    return this.root.getAttribute("data-text-" + name) || "";
  };

  Panel.prototype.ask = function (question) {
    var self = this;
    question = (question || "").trim();
    if (question.length < MIN_QUESTION || question === this.asked) { return; }
    this.asked = question;
    this.root.setAttribute("aria-busy", "true");
    var url = "/api/v1/assistant/answer?q=" + encodeURIComponent(question);
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      })
      .then(function (answer) { self.show(answer, question); })
      .catch(function () { self.show(null, question); })
      .then(function () { self.root.removeAttribute("aria-busy"); });
  };

  Panel.prototype.show = function (answer, question) {
    var box = this.result;
    box.textContent = "";
    if (answer && answer.answered && answer.article) {
      var link = el("a", { href: answer.article.url, "data-testid": "assistant-panel-article" },
                    answer.article.title);
      box.appendChild(el("p")).appendChild(link);
    } else if (answer && answer.decision === "clarify") {
      box.appendChild(el("p", {}, this.text("clarify")));
      var list = box.appendChild(el("ul"));
      answer.candidates.slice(0, 2).forEach(function (candidate) {
        list.appendChild(el("li")).appendChild(el("a", { href: candidate.url || "#" }, candidate.title));
      });
    } else {
      box.appendChild(el("p", { "class": "muted" }, this.text("unsure")));
    }
    var more = el("a", { href: "/hc/" + this.locale + "/assistant?q=" + encodeURIComponent(question),
                         "data-testid": "assistant-panel-more" }, this.text("more"));
    box.appendChild(el("p", { "class": "small" })).appendChild(more);
  };

  function init() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-assistant-panel]"),
                                 function (root) { return new Panel(root); });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
}());
