/* The agent workspace: incoming chats, accept, reply, transfer and close, several chats at once.
 * Speaks the chat protocol (docs/chat-protocol.md) over one socket signed in by the console's
 * session cookie; resumes every open chat from its last sequence number after a reconnect. */
(function () {
  "use strict";
  var S = JSON.parse(document.getElementById("ws-strings").textContent);
  var transferOptions = document.getElementById("ws-transfer-options");
  var offersList = document.getElementById("ws-offers");
  var panesBox = document.getElementById("ws-chats");
  var statusSelect = document.getElementById("ws-status");
  var capacityInput = document.getElementById("ws-capacity");
  var connection = document.getElementById("ws-connection");
  var queueLine = document.getElementById("ws-queue");
  var socket = null, backoff = 500, me = null, clientSeq = 0;
  var panes = {};  // chat id -> {box, log, typing, lastSeq}
  var queued = {};  // chat id -> true while queued anywhere

  function t(text, params) {
    var out = S[text] || text;
    for (var name in params || {}) { out = out.split("{" + name + "}").join(String(params[name])); }
    return out;
  }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    for (var name in attrs || {}) { node.setAttribute(name, attrs[name]); }
    if (text !== undefined) { node.textContent = text; }  // text only: message bodies are escaped
    return node;
  }

  function send(frame) {
    if (socket && socket.readyState === 1) { socket.send(JSON.stringify(frame)); }
  }

  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + location.host + "/api/v1/chat/ws");
    socket.onopen = function () { backoff = 500; send({ type: "hello" }); };
    socket.onmessage = function (event) { receive(JSON.parse(event.data)); };
    socket.onclose = function () {
      connection.textContent = t("Disconnected; reconnecting…");
      setTimeout(connect, backoff);
      backoff = Math.min(backoff * 2, 15000);
    };
  }

  function sendPresence() {
    send({ type: "presence", status: statusSelect.value,
           capacity: Math.max(1, Math.min(20, parseInt(capacityInput.value, 10) || 1)) });
  }

  var handlers = {
    welcome: function (frame) {
      me = frame.who;
      connection.textContent = t("Connected");
      if (statusSelect.value !== "offline") { sendPresence(); }
      frame.chats.forEach(function (chat) {
        if (chat.status === "offered") { showOffer(chat); } else { openPane(chat); }
      });
      Object.keys(panes).forEach(function (id) {  // a reconnect: carry on from the last seen
        send({ type: "resume", chat: Number(id), last_seq: panes[id].lastSeq });
      });
    },
    offer: function (frame) { showOffer(frame); },
    chat: function (frame) { onChat(frame); },
    message: function (frame) { onMessage(frame); },
    typing: function (frame) {
      var pane = panes[frame.chat];
      if (pane) { pane.typing.textContent = t("{name} is typing…", { name: frame.by.name }); }
    },
    error: function (frame) { connection.textContent = frame.message; }
  };

  function receive(frame) { (handlers[frame.type] || function () {})(frame); }

  function showOffer(chat) {
    if (document.getElementById("offer-" + chat.chat) || panes[chat.chat]) { return; }
    var item = el("li", { id: "offer-" + chat.chat, "data-testid": "chat-offer" });
    var preview = (chat.preview || []).map(function (m) { return m.text; }).join(" · ");
    item.appendChild(el("strong", {}, t("Incoming chat") + " #" + chat.chat));
    item.appendChild(el("span", {}, " " + [chat.language, chat.region, chat.vip_level ? "VIP " + chat.vip_level : ""]
      .filter(Boolean).join(" · ") + " — " + preview));
    var accept = el("button", { type: "button", "data-testid": "chat-accept" }, t("Accept"));
    accept.addEventListener("click", function () { send({ type: "accept", chat: chat.chat }); });
    item.appendChild(accept);
    offersList.appendChild(item);
    if (window.Notification && Notification.permission === "granted") {
      new Notification(t("Incoming chat"), { body: preview });
    }
  }

  function dropOffer(chatId) {
    var item = document.getElementById("offer-" + chatId);
    if (item) { item.remove(); }
  }

  function onChat(frame) {
    if (frame.status === "queued") { queued[frame.chat] = true; } else { delete queued[frame.chat]; }
    queueLine.textContent = t("Waiting in queues: {count}", { count: Object.keys(queued).length });
    if (frame.agent !== me.id || frame.status !== "offered") { dropOffer(frame.chat); }
    if (frame.status === "active" && frame.agent === me.id) { openPane(frame); }
    var pane = panes[frame.chat];
    if (pane && (frame.agent !== me.id || frame.status === "closed" || frame.status === "ticketed")) {
      pane.box.classList.add("chat-ended");
      pane.form.remove();
      delete panes[frame.chat];
    }
  }

  function openPane(chat) {
    if (panes[chat.chat]) { return; }
    dropOffer(chat.chat);
    var empty = document.getElementById("ws-empty");
    if (empty) { empty.remove(); }
    var box = el("article", { "class": "card chat-pane", "data-testid": "chat-pane", "data-chat": chat.chat });
    box.appendChild(el("h3", {}, t("Chat {chat}", { chat: chat.chat }) + " · " + chat.language +
                                 (chat.region ? " · " + chat.region : "")));
    var log = el("div", { "class": "chat-log", "data-testid": "chat-log", "aria-live": "polite" });
    var typing = el("p", { "class": "muted" });
    var form = el("form", { "class": "chat-reply" });
    var input = el("input", { type: "text", maxlength: "4000", "aria-label": t("Reply"), "data-testid": "chat-input" });
    var sendButton = el("button", { type: "submit", "data-testid": "chat-send" }, t("Send"));
    var target = el("select", { "aria-label": t("Transfer to…"), "data-testid": "chat-transfer-target" });
    target.innerHTML = transferOptions.innerHTML;  // server-rendered, escaped option list
    var transfer = el("button", { type: "button", "data-testid": "chat-transfer" }, t("Transfer"));
    var ticket = el("button", { type: "button", "data-testid": "chat-ticket" }, t("Make a ticket"));
    var close = el("button", { type: "button", "data-testid": "chat-close" }, t("Close chat"));
    [input, sendButton, target, transfer, ticket, close].forEach(function (n) { form.appendChild(n); });
    [log, typing, form].forEach(function (n) { box.appendChild(n); });
    panesBox.appendChild(box);
    var pane = panes[chat.chat] = { box: box, log: log, typing: typing, form: form, lastSeq: 0 };
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var text = input.value.trim();
      if (!text) { return; }
      input.value = "";
      clientSeq += 1;
      send({ type: "message", chat: chat.chat, text: text, client_id: "a-" + Date.now().toString(36) + "-" + clientSeq });
    });
    input.addEventListener("input", function () {
      var now = Date.now();
      if (!pane.typedAt || now - pane.typedAt > 3000) { pane.typedAt = now; send({ type: "typing", chat: chat.chat }); }
    });
    transfer.addEventListener("click", function () {
      if (target.value) { send({ type: "transfer", chat: chat.chat, agent: Number(target.value) }); }
    });
    ticket.addEventListener("click", function () { send({ type: "ticket", chat: chat.chat }); });
    close.addEventListener("click", function () { send({ type: "close", chat: chat.chat }); });
    send({ type: "resume", chat: chat.chat, last_seq: 0 });
  }

  function onMessage(frame) {
    var pane = panes[frame.chat];
    if (!pane || frame.seq <= pane.lastSeq) { return; }
    pane.lastSeq = frame.seq;
    var line = el("p", { "class": "chat-line chat-" + frame.sender.kind, "data-seq": frame.seq });
    line.appendChild(el("strong", {}, (frame.sender.name || frame.sender.kind) + ": "));
    line.appendChild(el("span", {}, frame.text));
    pane.log.appendChild(line);
    pane.log.scrollTop = pane.log.scrollHeight;
    pane.typing.textContent = "";
    send({ type: "read", chat: frame.chat, seq: frame.seq });
  }

  statusSelect.addEventListener("change", sendPresence);
  capacityInput.addEventListener("change", sendPresence);
  panesBox.appendChild(el("p", { "class": "muted", id: "ws-empty" }, t("No chats yet. Set yourself online to receive them.")));
  connect();
})();
