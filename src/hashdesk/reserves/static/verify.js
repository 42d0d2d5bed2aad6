/*
 * Proof-of-reserves check in the trader's own browser: the proof file is read with FileReader
 * and hashed with WebCrypto; nothing is uploaded. It follows the hashdesk-por/1 encoding of
 * src/hashdesk/reserves/tree.py to the byte:
 *   account = SHA-256(salt ‖ UTF-8 id)
 *   leaf    = SHA-256(0x00 ‖ account ‖ nonce ‖ amounts)
 *   node    = SHA-256(0x01 ‖ left ‖ right ‖ sums)
 * every amount 16 bytes big-endian in the asset's smallest unit; an odd node is promoted.
 * Messages come translated from the page (data-msg-* attributes of #reserves-verify).
 */
(function () {
  "use strict";
  var MAX_BYTES = 4 * 1024 * 1024;
  var MAX_SUM = (1n << 128n) - 1n;
  var root = document.getElementById("reserves-verify");
  if (!root) { return; }
  var input = document.getElementById("reserves-file");
  var drop = document.getElementById("reserves-drop");
  var publishedInput = document.getElementById("reserves-root");
  var status = document.getElementById("reserves-status");
  var stepsList = document.getElementById("reserves-steps");
  var pathList = document.getElementById("reserves-path");

  function msg(name) { return root.getAttribute("data-msg-" + name) || name; }

  function Failure(step, detail) { this.step = step; this.detail = detail; }

  function fail(step, detail) { throw new Failure(step, detail); }

  function hexToBytes(text, size, what) {
    if (typeof text !== "string" || !/^(0x)?[0-9a-fA-F]*$/.test(text)) { fail("schema", what); }
    var digits = text.replace(/^0x/, "");
    if (digits.length % 2 || (size && digits.length !== 2 * size)) { fail("schema", what); }
    var out = new Uint8Array(digits.length / 2);
    for (var i = 0; i < out.length; i++) { out[i] = parseInt(digits.substr(2 * i, 2), 16); }
    return out;
  }

  function toHex(bytes) {
    return Array.prototype.map.call(bytes, function (b) { return b.toString(16).padStart(2, "0"); }).join("");
  }

  function concat(parts) {
    var size = parts.reduce(function (n, p) { return n + p.length; }, 0);
    var out = new Uint8Array(size), at = 0;
    parts.forEach(function (p) { out.set(p, at); at += p.length; });
    return out;
  }

  function units(value, decimals, what) {
    var text = typeof value === "number" ? String(value) : value;
    if (typeof text !== "string" || !/^[0-9]+(\.[0-9]*)?$|^\.[0-9]+$/.test(text) || text.length > 80) {
      fail("amounts", what);
    }
    var parts = text.split(".");
    var fraction = parts[1] || "";
    if (fraction.length > decimals) { fail("amounts", what); }
    var amount = BigInt((parts[0] || "0") + fraction.padEnd(decimals, "0"));
    if (amount > MAX_SUM) { fail("amounts", what); }
    return amount;
  }

  function encodeAmounts(amounts) {
    var out = new Uint8Array(16 * amounts.length);
    amounts.forEach(function (amount, slot) {
      var value = amount;
      for (var i = 15; i >= 0; i--) { out[16 * slot + i] = Number(value & 0xffn); value >>= 8n; }
    });
    return out;
  }

  function sha256(bytes) {
    return crypto.subtle.digest("SHA-256", bytes).then(function (digest) { return new Uint8Array(digest); });
  }

  function expectedSides(index, count) {
    var sizes = [count];
    while (sizes[sizes.length - 1] > 1) { sizes.push(Math.ceil(sizes[sizes.length - 1] / 2)); }
    var sides = [];
    for (var level = 0; level < sizes.length - 1; level++) {
      var node = Math.floor(index / Math.pow(2, level));
      if (node % 2 === 1) { sides.push("left"); } else if (node + 1 < sizes[level]) { sides.push("right"); }
    }
    return sides;
  }

  function amountsOf(object, assets, what) {
    if (!object || typeof object !== "object") { fail("schema", what); }
    var keys = Object.keys(object).sort().join(",");
    if (keys !== assets.map(function (a) { return a.symbol; }).sort().join(",")) { fail("schema", what); }
    return assets.map(function (asset) { return units(object[asset.symbol], asset.decimals, what + " " + asset.symbol); });
  }

  function isInt(value) { return typeof value === "number" && Number.isInteger(value) && value >= 0; }

  function read(proof) {
    if (!proof || proof.format !== "hashdesk-por/1") { fail("format", msg("format")); }
    var assets = proof.assets;
    if (!Array.isArray(assets) || !assets.length || !assets.every(function (a) {
      return a && typeof a.symbol === "string" && isInt(a.decimals) && a.decimals <= 36;
    })) { fail("schema", "assets"); }
    var account = proof.account || {}, leaf = proof.leaf || {}, top = proof.root || {};
    if (typeof account.id !== "string" || !isInt(leaf.index) || !isInt(leaf.count) || leaf.index >= leaf.count
        || !Array.isArray(proof.path)) { fail("schema", "account, leaf, path"); }
    return {
      assets: assets,
      id: account.id,
      salt: hexToBytes(account.salt, 0, "account.salt"),
      accountHash: hexToBytes(account.hash, 32, "account.hash"),
      nonce: hexToBytes(proof.nonce, 16, "nonce"),
      index: leaf.index, count: leaf.count,
      leafHash: hexToBytes(leaf.hash, 32, "leaf.hash"),
      balances: amountsOf(proof.balances, assets, "balances"),
      path: proof.path.map(function (step, n) {
        if (!step || (step.position !== "left" && step.position !== "right")) { fail("schema", "path " + (n + 1)); }
        return { side: step.position, hash: hexToBytes(step.hash, 32, "path " + (n + 1)),
                 sums: amountsOf(step.sums, assets, "path " + (n + 1)) };
      }),
      rootHash: hexToBytes(top.hash, 32, "root.hash"),
      rootSums: amountsOf(top.sums, assets, "root.sums")
    };
  }

  async function verify(proof, published, passed, drawn) {
    var p = read(proof);
    passed("schema");
    var account = await sha256(concat([p.salt, new TextEncoder().encode(p.id)]));
    if (toHex(account) !== toHex(p.accountHash)) { fail("account hash", toHex(account)); }
    passed("account hash");
    var current = await sha256(concat([new Uint8Array([0]), account, p.nonce, encodeAmounts(p.balances)]));
    if (toHex(current) !== toHex(p.leafHash)) { fail("leaf hash", toHex(current)); }
    passed("leaf hash");
    drawn(toHex(current), "leaf", p.balances, p.assets);
    var sides = p.path.map(function (s) { return s.side; }).join(",");
    if (sides !== expectedSides(p.index, p.count).join(",")) { fail("path positions", sides); }
    passed("path positions");
    var sums = p.balances;
    for (var n = 0; n < p.path.length; n++) {
      var step = p.path[n];
      sums = sums.map(function (mine, slot) { return mine + step.sums[slot]; });
      if (sums.some(function (s) { return s > MAX_SUM; })) { fail("path step " + (n + 1), "2**128"); }
      var pair = step.side === "left" ? [step.hash, current] : [current, step.hash];
      current = await sha256(concat([new Uint8Array([1]), pair[0], pair[1], encodeAmounts(sums)]));
      drawn(toHex(current), step.side, sums, p.assets, toHex(step.hash));
    }
    if (sums.join(",") !== p.rootSums.join(",")) { fail("root sums", sums.join(",")); }
    passed("root sums");
    if (toHex(current) !== toHex(p.rootHash)) { fail("root hash", toHex(current)); }
    passed("root hash");
    if (published) {
      if (toHex(current) !== published.toLowerCase().replace(/^0x/, "")) { fail("published root", toHex(current)); }
      passed("published root");
    }
    return toHex(current);
  }

  function formatUnits(amount, decimals) {
    var text = amount.toString().padStart(decimals + 1, "0");
    return decimals ? text.slice(0, -decimals) + "." + text.slice(-decimals) : text;
  }

  function item(list, text, className, testId) {
    var li = document.createElement("li");
    li.textContent = text;
    if (className) { li.className = className; }
    if (testId) { li.setAttribute("data-testid", testId); }
    list.appendChild(li);
    return li;
  }

  function show(state, text) {
    status.textContent = text;
    status.className = "alert " + (state === "valid" ? "alert-success" : "alert-error");
    status.setAttribute("data-state", state);
    status.hidden = false;
  }

  function check(file) {
    stepsList.textContent = "";
    pathList.textContent = "";
    if (file.size > MAX_BYTES) { show("invalid", msg("too-large")); return; }
    var reader = new FileReader();
    reader.onload = function () {
      var proof;
      try { proof = JSON.parse(reader.result); } catch (e) { show("invalid", msg("failed") + " parse"); return; }
      var passed = function (name) { item(stepsList, "✓ " + name, "step-ok", "reserves-step-ok"); };
      var drawn = function (hash, side, sums, assets, sibling) {
        var label = side === "leaf" ? msg("leaf") : (side === "left" ? msg("sibling-left") : msg("sibling-right"));
        var totals = assets.map(function (a, slot) { return a.symbol + " " + formatUnits(sums[slot], a.decimals); }).join(", ");
        item(pathList, label + (sibling ? " " + sibling.slice(0, 16) + "…" : "") + " → " + hash + " (" + totals + ")",
             "path-node", "reserves-path-node");
      };
      verify(proof, publishedInput.value.trim(), passed, drawn).then(function (hash) {
        show("valid", msg("valid") + " " + hash);
      }, function (error) {
        var step = error instanceof Failure ? error.step : "verification";
        item(stepsList, "✗ " + step, "step-failed", "reserves-step-failed");
        show("invalid", msg("failed") + " " + step);
      });
    };
    reader.readAsText(file);
  }

  input.addEventListener("change", function () { if (input.files.length) { check(input.files[0]); } });
  drop.addEventListener("dragover", function (event) { event.preventDefault(); drop.classList.add("dragging"); });
  drop.addEventListener("dragleave", function () { drop.classList.remove("dragging"); });
  drop.addEventListener("drop", function (event) {
    event.preventDefault();
    drop.classList.remove("dragging");
    if (event.dataTransfer.files.length) { check(event.dataTransfer.files[0]); }
  });
})();
