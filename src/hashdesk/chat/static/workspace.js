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
  var socket = null, backoff = 500, me = null, clientSeq = 0, sentTexts = {};
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
    ack: function (frame) { onAck(frame); },
    typing: function (frame) {
      var pane = panes[frame.chat];
      if (pane) { pane.typing.textContent = t("{name} is typing…", { name: frame.by.name }); }
    },
    context: function (frame) { if (panes[frame.chat]) { loadContext(frame.chat); } },
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
    var department = el("select", { "aria-label": t("Escalate to…"), "data-testid": "chat-department" });
    department.innerHTML = departmentOptions.innerHTML;  // server-rendered option list
    var escalate = el("button", { type: "button", "data-testid": "chat-escalate" }, t("Escalate"));
    var close = el("button", { type: "button", "data-testid": "chat-close" }, t("Close chat"));
    var file = el("input", { type: "file", "aria-label": t("Attach a file"), "data-testid": "chat-file-input",
                             accept: "image/*,application/pdf,text/plain" });
    file.addEventListener("change", function () {
      if (!file.files.length) { return; }
      var chosen = file.files[0];
      file.value = "";
      fetch("/api/v1/chat/chats/" + chat.chat + "/attachments?name=" + encodeURIComponent(chosen.name),
            { method: "POST", credentials: "same-origin", headers: { "X-CSRF-Token": csrf }, body: chosen })
        .then(function (response) {
          if (!response.ok) { return response.json().then(function (d) { connection.textContent = d.detail || d.title; }); }
        });
    });
    [input, sendButton, file, target, transfer, ticket, department, escalate, close].forEach(function (n) { form.appendChild(n); });
    var side = el("aside", { "class": "chat-context", "data-testid": "chat-context" });
    [log, typing, form, side].forEach(function (n) { box.appendChild(n); });
    panesBox.appendChild(box);
    var pane = panes[chat.chat] = { box: box, log: log, typing: typing, form: form, side: side,
                                    input: input, lastSeq: 0 };
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var text = input.value.trim();
      if (!text) { return; }
      input.value = "";
      clientSeq += 1;
      var clientId = "a-" + Date.now().toString(36) + "-" + clientSeq;
      sentTexts[clientId] = text;
      send({ type: "message", chat: chat.chat, text: text, client_id: clientId });
    });
    input.addEventListener("input", function () {
      var now = Date.now();
      if (!pane.typedAt || now - pane.typedAt > 3000) { pane.typedAt = now; send({ type: "typing", chat: chat.chat }); }
    });
    transfer.addEventListener("click", function () {
      if (target.value) { send({ type: "transfer", chat: chat.chat, agent: Number(target.value) }); }
    });
    // Through the desk's HTTP action: the ticket keeps the predicted category and transcripts.
    ticket.addEventListener("click", function () { post(chat.chat, "/ticket", {}); });
    escalate.addEventListener("click", function () {
      if (department.value) { post(chat.chat, "/ticket", { department: department.value }); }
    });
    loadContext(chat.chat);
    close.addEventListener("click", function () { send({ type: "close", chat: chat.chat }); });
    send({ type: "resume", chat: chat.chat, last_seq: 0 });
  }

  // Our own message is not echoed back: its ack stands in its place (same seq), shown as the
  // message would have been; a resend's ack ("duplicate") only confirms.
  function onAck(frame) {
    var text = sentTexts[frame.client_id];
    delete sentTexts[frame.client_id];
    if (frame.duplicate || text === undefined) { return; }
    onMessage({ chat: frame.chat, seq: frame.seq, client_id: frame.client_id, text: frame.text || text,
                sender: { kind: "agent", id: me && me.id, name: me && me.name } });
  }

  function onMessage(frame) {
    var pane = panes[frame.chat];
    if (!pane || frame.seq <= pane.lastSeq) { return; }
    pane.lastSeq = frame.seq;
    var line = el("p", { "class": "chat-line chat-" + frame.sender.kind, "data-seq": frame.seq });
    line.appendChild(el("strong", {}, (frame.sender.name || frame.sender.kind) + ": "));
    var fileId = /^file:(\d+)$/.exec(frame.client_id || "");
    if (fileId) {  // the console's cookie signs the download in: a plain link
      line.appendChild(el("a", { href: "/api/v1/chat/chats/" + frame.chat + "/attachments/" + fileId[1],
                                 "data-testid": "chat-file" }, frame.text));
    } else {
      line.appendChild(el("span", {}, frame.text));
    }
    pane.log.appendChild(line);
    pane.log.scrollTop = pane.log.scrollHeight;
    pane.typing.textContent = "";
    send({ type: "read", chat: frame.chat, seq: frame.seq });
  }

  /* --- the context panel: profile, assistant hand-off, tickets, transfers, notes, canned -- */

  var departmentOptions = document.getElementById("ws-department-options");
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";

  function request(method, chatId, path, body) {
    return fetch("/api/v1/chat/chats/" + chatId + path, {
      method: method, credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: body ? JSON.stringify(body) : undefined
    }).then(function (response) {
      return response.json().then(function (data) {
        if (!response.ok) { throw new Error(data.detail || data.title || response.status); }
        return data;
      });
    });
  }

  function post(chatId, path, body) {
    return request("POST", chatId, path, body).catch(function (error) {
      connection.textContent = error.message;
    });
  }

  function section(side, title, testid) {
    var part = el("section", { "data-testid": testid });
    part.appendChild(el("h4", {}, title));
    side.appendChild(part);
    return part;
  }

  function list(part, rows, emptyText) {
    var ul = el("ul", { "class": "plain-list" });
    rows.forEach(function (text) { ul.appendChild(el("li", {}, text)); });
    if (!rows.length) { ul.appendChild(el("li", { "class": "muted" }, emptyText)); }
    part.appendChild(ul);
  }

  function loadContext(chatId) {
    Promise.all([request("GET", chatId, "/context"), request("GET", chatId, "/canned")])
      .then(function (got) { drawContext(chatId, got[0], got[1]); })
      .catch(function () {});
  }

  function drawContext(chatId, ctx, canned) {
    var pane = panes[chatId];
    if (!pane) { return; }
    var side = pane.side, p = ctx.profile;
    side.textContent = "";
    var who = section(side, t("Trader"), "chat-profile");
    list(who, [p.name || p.email || "", p.email || "",
               t("VIP level {level}", { level: p.vip_level }) + " · " + t("Region {region}", { region: p.region || "—" }) +
               " · " + p.language].filter(Boolean), "");
    if (ctx.assistant) {
      var bot = section(side, t("Before the chat, with the assistant"), "chat-assistant");
      bot.appendChild(el("p", {}, t("Predicted category: {category}", { category: ctx.assistant.predicted_category || "—" }) +
                                  " · " + ctx.assistant.language));
      var details = el("details");
      details.appendChild(el("summary", {}, t("Transcript")));
      details.appendChild(el("pre", {}, ctx.assistant.transcript));
      bot.appendChild(details);
    }
    list(section(side, t("Open tickets"), "chat-open-tickets"), ctx.open_tickets.map(function (x) {
      return x.tracking_id + " · " + x.status + " · " + x.subject;
    }), t("None"));
    list(section(side, t("Recent deposits and withdrawals"), "chat-transfers"), ctx.transfers.map(function (x) {
      return (x.kind === "deposit" ? "↓ " : "↑ ") + x.amount + " " + x.asset + " (" + x.network + ") · " +
             x.status + " · " + x.occurred_at.slice(0, 16).replace("T", " ");
    }), t("None"));
    var notes = section(side, t("Internal notes (the trader never sees them)"), "chat-notes");
    list(notes, ctx.notes.map(function (n) { return n.at.slice(11, 16) + " " + n.body; }), t("None"));
    var noteForm = el("form");
    var noteInput = el("textarea", { maxlength: "4000", "aria-label": t("Internal note"), "data-testid": "chat-note-input" });
    noteForm.appendChild(noteInput);
    noteForm.appendChild(el("button", { type: "submit", "data-testid": "chat-note-add" }, t("Add note")));
    noteForm.addEventListener("submit", function (event) {
      event.preventDefault();
      if (noteInput.value.trim()) { post(chatId, "/notes", { body: noteInput.value }); }
    });
    notes.appendChild(noteForm);
    if (canned.length) {
      var pick = el("select", { "aria-label": t("Canned reply"), "data-testid": "chat-canned" });
      pick.appendChild(el("option", { value: "" }, t("Canned reply")));
      canned.forEach(function (c, i) { pick.appendChild(el("option", { value: String(i) }, c.name)); });
      pick.addEventListener("change", function () {
        if (pick.value !== "") { pane.input.value = canned[Number(pick.value)].body; pane.input.focus(); }
      });
      section(side, t("Canned replies"), "chat-canned-replies").appendChild(pick);
    }
  }

  statusSelect.addEventListener("change", sendPresence);
  capacityInput.addEventListener("change", sendPresence);
  panesBox.appendChild(el("p", { "class": "muted", id: "ws-empty" }, t("No chats yet. Set yourself online to receive them.")));
  connect();
})();
