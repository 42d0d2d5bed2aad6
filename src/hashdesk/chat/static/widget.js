/* HashDesk chat widget: one script tag, no framework.
 *
 *   <script src="https://support.example.com/api/v1/chat/widget.js?locale=de"
 *           data-token="<the exchange's JWT for a signed-in trader, optional>" async></script>
 *
 * Opens with the assistant (/api/v1/assistant) and hands off to a human in the same panel over
 * the chat WebSocket (docs/chat-protocol.md): queue position and expected wait, typing, read
 * receipts, and a resume from the last sequence number seen after any reconnect.
 * The server prepends HASHDESK_STRINGS (this page's translations) and HASHDESK_BASE.
 */
(function () {
  "use strict";
  var S = window.HASHDESK_STRINGS || {};
  var BASE = window.HASHDESK_BASE || "";
  var script = document.currentScript;
  var token = script ? script.getAttribute("data-token") : null;
  var locale = (window.HASHDESK_LOCALE || document.documentElement.lang || "en");
  var store = window.sessionStorage;
  var STATE_KEY = "hashdesk-chat";

  function t(text, params) {
    var out = S[text] || text;
    for (var name in params || {}) { out = out.split("{" + name + "}").join(String(params[name])); }
    return out;
  }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    for (var name in attrs || {}) { node.setAttribute(name, attrs[name]); }
    if (text !== undefined) { node.textContent = text; }  // text, never HTML: escaped
    return node;
  }

  /* --- the panel ------------------------------------------------------------------------- */

  var panel, log, statusLine, input, humanButton, readMark, transcriptButton, survey, fileInput, attachButton;

  function build() {
    document.head.appendChild(el("link", { rel: "stylesheet", href: BASE + "/api/v1/chat/widget.css" }));
    var button = el("button", { id: "hd-chat-button", type: "button" }, t("Help"));
    panel = el("section", { id: "hd-chat", role: "dialog", "aria-label": t("Support chat"),
                            dir: ["ar", "fa"].indexOf(locale) >= 0 ? "rtl" : "ltr" });
    var header = el("header");
    header.appendChild(el("span", {}, t("Support")));
    transcriptButton = el("button", { id: "hd-transcript", type: "button", hidden: "hidden" },
                          t("Email me the transcript"));
    header.appendChild(transcriptButton);
    var close = el("button", { type: "button", "aria-label": t("Close") }, "×");
    header.appendChild(close);
    log = el("div", { id: "hd-log", "aria-live": "polite" });
    statusLine = el("div", { id: "hd-status" });
    humanButton = el("button", { id: "hd-human", type: "button" }, t("Talk to a person"));
    var form = el("form", { id: "hd-form" });
    input = el("input", { type: "text", maxlength: "4000", "aria-label": t("Your message"),
                          placeholder: t("Type your question…") });
    form.appendChild(input);
    fileInput = el("input", { type: "file", hidden: "hidden", accept: "image/*,application/pdf,text/plain" });
    attachButton = el("button", { type: "button", id: "hd-attach", hidden: "hidden", "aria-label": t("Attach a file") }, "📎");
    var tools = el("div", { id: "hd-tools" });  // outside the form: its one input and button stay
    tools.appendChild(fileInput);
    tools.appendChild(attachButton);
    form.appendChild(el("button", { type: "submit" }, t("Send")));
    [header, log, statusLine, humanButton, tools, form].forEach(function (n) { panel.appendChild(n); });
    document.body.appendChild(button);
    document.body.appendChild(panel);
    button.addEventListener("click", function () { panel.classList.toggle("hd-open"); input.focus(); });
    close.addEventListener("click", function () { panel.classList.remove("hd-open"); });
    form.addEventListener("submit", function (event) { event.preventDefault(); submit(); });
    input.addEventListener("input", typing);
    humanButton.addEventListener("click", handOff);
    transcriptButton.addEventListener("click", emailTranscript);
    attachButton.addEventListener("click", function () { fileInput.click(); });
    fileInput.addEventListener("change", function () {
      if (fileInput.files.length) { sendFile(fileInput.files[0]); }
      fileInput.value = "";
    });
  }

  function show(text, who) {
    var line = el("div", { "class": "hd-msg hd-" + who }, text);
    log.appendChild(line);
    log.scrollTop = log.scrollHeight;
    return line;
  }

  function status(text) { statusLine.textContent = text || ""; }

  function submit() {
    var text = input.value.trim();
    if (!text) { return; }
    input.value = "";
    if (chat.id) { sendMessage(text); } else { askAssistant(text); }
  }

  /* --- the assistant ---------------------------------------------------------------------- */

  // A guest's assistant conversation belongs to this random key, sent as a header: on an
  // exchange's own site the browser keeps the desk's session cookie back.
  var assistant = { id: null, csrf: null, lastQuestion: "", key: randomKey() };

  function randomKey() {
    var bytes = new Uint8Array(24);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  function api(method, path, body) {
    var headers = { "Content-Type": "application/json", "X-Assistant-Key": assistant.key };
    if (assistant.csrf) { headers["X-CSRF-Token"] = assistant.csrf; }
    if (token) { headers.Authorization = "Bearer " + token; }
    return fetch(BASE + path, { method: method, headers: headers, credentials: "include",
                                body: body ? JSON.stringify(body) : undefined })
      .then(function (response) {
        return response.json().then(function (data) {
          if (!response.ok) { throw new Error(data.detail || data.title || response.status); }
          return data;
        });
      });
  }

  function askAssistant(text) {
    show(text, "me");
    assistant.lastQuestion = text;
    status(t("The assistant is looking…"));
    var ready = assistant.csrf ? Promise.resolve() : api("GET", "/api/v1/chat/widget-session")
      .then(function (data) { assistant.csrf = data.csrf_token; });
    ready.then(function () {
      if (assistant.id) {
        return api("POST", "/api/v1/assistant/conversations/" + assistant.id + "/messages",
                   { body: text }).then(function (message) { return [message]; });
      }
      return api("POST", "/api/v1/assistant/conversations", { message: text, locale: locale })
        .then(function (conversation) {
          assistant.id = conversation.id;
          return conversation.messages.filter(function (m) { return m.author !== "trader"; });
        });
    }).then(function (messages) {
      status("");
      messages.forEach(function (m) { if (m.author !== "trader") { show(m.body, "them"); } });
    }).catch(function () {
      status(t("The assistant is not available; you can talk to a person."));
    });
  }

  /* --- the human chat over the WebSocket --------------------------------------------------- */

  var chat = JSON.parse(store.getItem(STATE_KEY) || "{}");  // id, key, lastSeq, email
  var socket = null, backoff = 500, pending = {}, typingSentAt = 0, clientSeq = 0;

  function save() { store.setItem(STATE_KEY, JSON.stringify(chat)); }

  function send(frame) {
    if (socket && socket.readyState === 1) { socket.send(JSON.stringify(frame)); return true; }
    return false;
  }

  function handOff() {
    if (!token && !chat.email) {
      var email = window.prompt(t("Your email address, so that we can answer you:"));
      if (!email) { return; }
      chat.email = email.trim();
      save();
    }
    humanButton.hidden = true;
    if (survey) { survey.remove(); survey = null; }  // a new chat gets its own survey
    status(t("Connecting you to a person…"));
    connect(true);
  }

  function connect(starting) {
    var url = BASE.replace(/^http/, "ws") || (location.protocol === "https:" ? "wss://" : "ws://") + location.host;
    socket = new WebSocket(url + "/api/v1/chat/ws");
    socket.onopen = function () {
      backoff = 500;
      var hello = { type: "hello", language: locale };
      if (token) { hello.token = token; } else {
        hello.guest_email = chat.email;
        var proven = guestToken();
        if (proven) { hello.guest_token = proven; }
      }
      send(hello);
    };
    socket.onmessage = function (event) { receive(JSON.parse(event.data), starting); starting = false; };
    socket.onclose = function () {
      socket = null;
      if (chat.id && chat.status !== "closed" && chat.status !== "ticketed") {
        status(t("Reconnecting…"));
        setTimeout(function () { connect(false); }, backoff);
        backoff = Math.min(backoff * 2, 15000);
      }
    };
  }

  function receive(frame, starting) {
    var handlers = {
      welcome: function () {
        var back = !chat.id && (frame.chats || []).filter(function (c) { return c.key; })[0];
        if (back) { chat.id = back.chat; chat.key = back.key; chat.lastSeq = 0; save(); }
        if (chat.id) {
          send({ type: "resume", chat: chat.id, last_seq: chat.lastSeq || 0, key: chat.key });
        } else if (starting) {
          var first = assistant.lastQuestion || t("I would like to talk to a person.");
          var start = { type: "start", text: first, language: locale, client_id: nextClientId() };
          // The conversation rides on the start: the first offer knows its predicted category.
          if (assistant.id) {
            start.assistant = assistant.id;
            start.assistant_key = assistant.key;
            chat.linked = assistant.id;
          }
          send(start);
        }
      },
      chat: function () { onChat(frame); },
      message: function () { onMessage(frame); },
      ack: function () { onAck(frame); },
      typing: function () { status(t("{name} is typing…", { name: frame.by.name })); },
      read: function () { onRead(frame); },
      error: function () { onError(frame); }
    };
    (handlers[frame.type] || function () {})();
  }

  function onChat(frame) {
    chat.id = frame.chat;
    chat.status = frame.status;
    if (frame.key) { chat.key = frame.key; }
    save();
    resendPending();
    transcriptButton.hidden = false;
    attachButton.hidden = ["queued", "offered", "active"].indexOf(frame.status) < 0;
    linkAssistant();
    if (frame.status === "queued") {
      status(t("You are number {position} in the queue; expected wait about {minutes} min.",
               { position: frame.position, minutes: Math.max(1, Math.round(frame.wait_seconds / 60)) }));
    } else if (frame.status === "offered") {
      status(t("An agent is about to join…"));
    } else if (frame.status === "active") {
      status("");
    } else {
      status(t("This chat has ended."));
      if (frame.status === "closed") { askSurvey(); }
    }
  }

  /* --- the desk's HTTP side: assistant hand-off, survey, transcript ----------------------- */

  function chatApi(path, body) {
    // Guests show the email they gave and the chat's key; traders their token (in api()).
    if (!token) { body.email = chat.email; body.key = chat.key; }
    var ready = assistant.csrf ? Promise.resolve() : api("GET", "/api/v1/chat/widget-session")
      .then(function (data) { assistant.csrf = data.csrf_token; });
    return ready.then(function () { return api("POST", "/api/v1/chat/chats/" + chat.id + path, body); });
  }

  function linkAssistant() {
    // The agent sees what the assistant was told, its language and the predicted category.
    if (!assistant.id || chat.linked === assistant.id) { return; }
    chat.linked = assistant.id;
    save();
    chatApi("/assistant", { conversation: assistant.id }).catch(function () {});
  }

  function fileHeaders() {
    var headers = { "X-CSRF-Token": assistant.csrf || "" };
    if (token) { headers.Authorization = "Bearer " + token; } else {
      headers["X-Chat-Email"] = chat.email;
      headers["X-Chat-Key"] = chat.key;
    }
    return headers;
  }

  function sendFile(file) {
    var ready = assistant.csrf ? Promise.resolve() : api("GET", "/api/v1/chat/widget-session")
      .then(function (data) { assistant.csrf = data.csrf_token; });
    ready.then(function () {
      return fetch(BASE + "/api/v1/chat/chats/" + chat.id + "/attachments?name=" + encodeURIComponent(file.name),
                   { method: "POST", headers: fileHeaders(), credentials: "include", body: file });
    }).then(function (response) {
      if (!response.ok) {
        return response.json().then(function (data) { status(data.detail || data.title || response.status); });
      }
    }).catch(function () { status(t("The file could not be sent.")); });
  }

  function showFile(name, who, fileId) {
    // A button, not a link: a guest's or token holder's download needs headers.
    var line = show("", who);
    var button = el("button", { type: "button", "class": "hd-file" }, name);
    button.addEventListener("click", function () {
      fetch(BASE + "/api/v1/chat/chats/" + chat.id + "/attachments/" + fileId,
            { headers: fileHeaders(), credentials: "include" })
        .then(function (response) { return response.ok ? response.blob() : Promise.reject(); })
        .then(function (blob) {
          var link = el("a", { href: URL.createObjectURL(blob), download: name.replace(/^📎 /, "") });
          document.body.appendChild(link);
          link.click();
          link.remove();
        }).catch(function () { status(t("The file could not be opened.")); });
    });
    line.appendChild(button);
    return line;
  }

  function emailTranscript() {
    // A guest's address is proven once (a code by email) before anything is sent to it.
    if (!token && !guestToken()) { askCode(emailTranscript); return; }
    chatApi("/transcript", {}).then(function () {
      status(t("The transcript is on its way to your email."));
    }).catch(function (error) { status(error.message); });
  }

  /* --- a guest proves their email address (a code by email), only when it is needed -------- */

  var GUEST_TOKEN_KEY = "hashdesk-guest-token";
  var codeForm = null;

  function guestToken() {
    var saved = JSON.parse(window.localStorage.getItem(GUEST_TOKEN_KEY) || "{}");
    return saved.email && saved.email === (chat.email || "").toLowerCase() ? saved.token : null;
  }

  function askCode(then) {
    if (codeForm) { return; }
    chatApi("/verification", {}).then(function (sent) {
      codeForm = el("form", { id: "hd-code" });
      codeForm.appendChild(el("p", {}, t("We sent a code to {email}; enter it to confirm your address.",
                                         { email: sent.sent_to })));
      var code = el("input", { type: "text", inputmode: "numeric", maxlength: "6", autocomplete: "one-time-code",
                               "aria-label": t("Code from the email") });
      codeForm.appendChild(code);
      codeForm.appendChild(el("button", { type: "submit" }, t("Confirm")));
      codeForm.addEventListener("submit", function (event) {
        event.preventDefault();
        chatApi("/verification/confirm", { code: code.value.trim() }).then(function (proven) {
          window.localStorage.setItem(GUEST_TOKEN_KEY, JSON.stringify({ email: proven.email, token: proven.guest_token }));
          codeForm.remove();
          codeForm = null;
          status(t("Your email address is confirmed."));
          then();
        }).catch(function (error) { status(error.message); });
      });
      panel.insertBefore(codeForm, statusLine);
      code.focus();
    }).catch(function (error) { status(error.message); });
  }

  function askSurvey() {
    if (survey || chat.rated === chat.id) { return; }
    survey = el("form", { id: "hd-survey" });
    survey.appendChild(el("p", {}, t("How was this chat?")));
    var rating = 0, stars = el("div", { role: "radiogroup", "aria-label": t("How was this chat?") });
    [1, 2, 3, 4, 5].forEach(function (n) {
      var star = el("button", { type: "button", "class": "hd-star", role: "radio", "aria-checked": "false",
                                "aria-label": t("{rating} of 5", { rating: n }) }, "★");
      star.addEventListener("click", function () {
        rating = n;
        Array.prototype.forEach.call(stars.children, function (other, i) {
          other.setAttribute("aria-checked", String(i < n));
        });
      });
      stars.appendChild(star);
    });
    var comment = el("textarea", { maxlength: "2000", "aria-label": t("Your comment (optional)"),
                                   placeholder: t("Your comment (optional)") });
    [stars, comment, el("button", { type: "submit" }, t("Send rating"))].forEach(function (n) {
      survey.appendChild(n);
    });
    survey.addEventListener("submit", function (event) {
      event.preventDefault();
      if (!rating) { return; }
      chatApi("/survey", { rating: rating, comment: comment.value.trim() }).then(function () {
        chat.rated = chat.id;
        save();
        survey.textContent = t("Thank you for your feedback.");
      }).catch(function (error) { status(error.message); });
    });
    log.appendChild(survey);
    log.scrollTop = log.scrollHeight;
  }

  function onMessage(frame) {
    if (frame.seq <= (chat.lastSeq || 0)) { return; }  // the server never repeats; be safe
    chat.lastSeq = frame.seq;
    save();
    var mine = frame.client_id && frame.client_id.indexOf("w-") === 0 &&
               frame.sender.kind !== "agent" && frame.sender.kind !== "system";
    var who = frame.sender.kind === "system" ? "system" : (mine ? "me" : "them");
    var fileId = /^file:(\d+)$/.exec(frame.client_id || "");
    if (fileId) { mine = frame.sender.kind !== "agent"; who = mine ? "me" : "them"; }
    var line = fileId ? showFile(frame.text, who, fileId[1]) : show(frame.text, who);
    if (frame.sender.kind === "agent") { line.setAttribute("title", frame.sender.name); }
    clearTyping();
    if (!document.hidden) { send({ type: "read", chat: chat.id, seq: frame.seq }); }
  }

  // Our own message is not echoed back: its ack stands in its place in the chat (same seq),
  // with the text only when the server changed it (the secret guard). A resend's ack
  // ("duplicate") only confirms: the message itself comes, or came, in the replay.
  function onAck(frame) {
    var text = frame.text || pending[frame.client_id];
    delete pending[frame.client_id];
    if (frame.duplicate || text === undefined || frame.seq <= (chat.lastSeq || 0)) { return; }
    chat.lastSeq = frame.seq;
    save();
    show(text, "me");
    clearTyping();
  }

  // A message ends the "is typing" line of a live chat; the queue place, "an agent is about
  // to join" and "this chat has ended" stay (a replay after the chat ended must not clear it).
  function clearTyping() {
    if (chat.status === "active") { status(""); }
  }

  function onRead(frame) {
    if (frame.by.kind !== "agent") { return; }
    if (!readMark) { readMark = el("div", { "class": "hd-read" }); }
    readMark.textContent = t("Seen");
    log.appendChild(readMark);
  }

  function onError(frame) {
    if (frame.code === "rate_limited") {
      status(t("Slow down a little, please."));
    } else if (frame.code === "not_found" && chat.id) {
      chat = { email: chat.email };  // the chat is gone or not ours: start over
      save();
    } else {
      status(frame.message);
    }
  }

  function nextClientId() {
    clientSeq += 1;
    return "w-" + Date.now().toString(36) + "-" + clientSeq;
  }

  function sendMessage(text) {
    var clientId = nextClientId();
    pending[clientId] = text;
    if (!send({ type: "message", chat: chat.id, text: text, client_id: clientId })) {
      status(t("Not connected; your message will be sent when we are back."));
    }
  }

  function typing() {
    var now = Date.now();
    if (chat.id && now - typingSentAt > 3000) {
      typingSentAt = now;
      send({ type: "typing", chat: chat.id });
    }
  }

  function resendPending() {
    for (var clientId in pending) {  // the same client_id: the server stores each once
      send({ type: "message", chat: chat.id, text: pending[clientId], client_id: clientId });
    }
  }

  function init() {
    build();
    if (chat.id) {  // a reload or a new page of the same tab: carry on where we were
      chat.lastSeq = 0;  // the page is new and empty: replay the whole chat into it
      humanButton.hidden = true;
      connect(false);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
