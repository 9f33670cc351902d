/*
 * A local stand-in for Cloudflare Turnstile's api.js (the local stack serves it at /turnstile/v0/api.js when
 * started with --turnstile). Offline, no challenge: it behaves like Cloudflare's dummy sitekeys.
 *
 * Like Cloudflare's implicit rendering, it finds every `.cf-turnstile[data-sitekey]` element inside a form
 * and puts a hidden `<input name="cf-turnstile-response">` holding a token into it (the page's script sends
 * that value as `turnstileToken`). `window.turnstile` offers render(container, params), getResponse(id),
 * reset(id) and remove(id). The dummy sitekey 2x00000000000000000000AB "always fails": no token, and the
 * widget's error callback is called. Every other sitekey gets Cloudflare's dummy token
 * XXXX.DUMMY.TOKEN.XXXX, which only the test secrets accept at siteverify (the stand-in's too).
 */
(function () {
  "use strict";

  var DUMMY_TOKEN = "XXXX.DUMMY.TOKEN.XXXX";
  var FAILING_SITEKEYS = ["2x00000000000000000000AB", "2x00000000000000000000BB"];
  var widgets = [];

  function find(id) {
    if (id === undefined || id === null) return widgets[widgets.length - 1] || null;
    for (var i = 0; i < widgets.length; i++) {
      if (widgets[i].id === id || widgets[i].element === id) return widgets[i];
    }
    return null;
  }

  function callback(widget, name, value) {
    var fn = widget.params[name];
    if (typeof fn === "string") fn = window[fn];
    if (typeof fn === "function") fn(value);
  }

  function issue(widget) {
    if (FAILING_SITEKEYS.indexOf(widget.sitekey) >= 0) {
      widget.input.value = "";
      widget.label.textContent = "Turnstile stand-in: verification failed (test sitekey)";
      callback(widget, "error-callback", "110200");
      return;
    }
    widget.input.value = DUMMY_TOKEN;
    widget.label.textContent = "Turnstile stand-in: verified (local, offline)";
    callback(widget, "callback", DUMMY_TOKEN);
  }

  function paramsFrom(element) {
    var params = {};
    var names = ["sitekey", "action", "callback", "error-callback", "response-field-name"];
    for (var i = 0; i < names.length; i++) {
      var value = element.getAttribute("data-" + names[i]);
      if (value !== null) params[names[i]] = value;
    }
    return params;
  }

  function render(container, params) {
    var element = typeof container === "string" ? document.querySelector(container) : container;
    if (!element) throw new Error("turnstile stand-in: no element for " + container);
    var existing = find(element);
    if (existing) return existing.id;
    params = params || paramsFrom(element);
    var sitekey = params.sitekey || element.getAttribute("data-sitekey");
    if (!sitekey) throw new Error("turnstile stand-in: a sitekey is required");
    var input = document.createElement("input");
    input.type = "hidden";
    input.name = params["response-field-name"] || "cf-turnstile-response";
    var label = document.createElement("span");
    label.className = "cf-turnstile-standin";
    element.appendChild(label);
    element.appendChild(input);
    var widget = { id: "cf-standin-" + widgets.length, element: element, params: params, sitekey: sitekey,
      input: input, label: label };
    widgets.push(widget);
    issue(widget);
    return widget.id;
  }

  function renderImplicitly() {
    var elements = document.querySelectorAll("form .cf-turnstile[data-sitekey]");
    for (var i = 0; i < elements.length; i++) render(elements[i]);
  }

  window.turnstile = {
    render: render,
    getResponse: function (id) {
      var widget = find(id);
      return widget ? widget.input.value : undefined;
    },
    reset: function (id) {
      var widget = find(id);
      if (widget) issue(widget);
    },
    remove: function (id) {
      var widget = find(id);
      if (!widget) return;
      widget.element.removeChild(widget.input);
      widget.element.removeChild(widget.label);
      widgets.splice(widgets.indexOf(widget), 1);
    },
    isExpired: function () {
      return false;
    },
  };

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", renderImplicitly);
  } else {
    renderImplicitly();
  }
})();
