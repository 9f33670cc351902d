/*
 * The demo contact form: validation as you type (the contract's rules, so most mistakes never reach
 * the server), the CSRF token fetch, the honeypot and timing fields, and one clear message for every
 * answer the API can give. The pure parts (validation, payload, outcome) are exported for tests
 * under Node; in a browser the form is wired up on DOMContentLoaded.
 */
(function (root, factory) {
  "use strict";
  const api = factory();
  if (typeof module === "object" && module.exports) {
    module.exports = api;
  } else {
    root.ContactForm = api;
    if (typeof document !== "undefined") {
      document.addEventListener("DOMContentLoaded", function () { api.mount(document, root); });
    }
  }
})(typeof globalThis !== "undefined" ? globalThis : this, function () {
  "use strict";

  const FIELDS = ["name", "email", "subject", "message", "consent"];
  const CONTROL = /[\u0000-\u001f\u007f]/;
  const LINE_BREAK = /[\r\n]/;
  const EMAIL = /^[^\s@<>(),;:"]+@[^\s@<>(),;:"]+\.[^\s@<>(),;:".]{2,}$/;

  /** The message for one field, or "" when it is fine. ``value`` is a string (consent: a boolean). */
  function validateField(name, value) {
    const text = typeof value === "string" ? value.trim() : "";
    switch (name) {
      case "name":
        if (!text) return "Please tell us your name.";
        if (text.length > 100) return "Your name can be at most 100 characters.";
        if (CONTROL.test(text)) return "Your name contains characters we cannot accept.";
        return "";
      case "email":
        if (!text) return "Please enter your email address, so we can answer.";
        if (text.length > 254) return "That email address is too long (at most 254 characters).";
        if (!EMAIL.test(text)) return "That does not look like an email address (like name@example.com).";
        return "";
      case "subject":
        if (text.length > 150) return "The subject can be at most 150 characters.";
        if (LINE_BREAK.test(value || "")) return "The subject must fit on one line.";
        return "";
      case "message":
        if (!text) return "Please write a message.";
        if (text.length < 10) return "Your message is a little short: at least 10 characters, please.";
        if (text.length > 5000) return "Your message can be at most 5000 characters.";
        return "";
      case "consent":
        return value === true ? "" : "Please agree, so we may store your message to answer it.";
      default:
        return "";
    }
  }

  /** ``{field: message}`` for every field that is not fine. */
  function validateForm(values) {
    const errors = {};
    for (const name of FIELDS) {
      const message = validateField(name, values[name]);
      if (message) errors[name] = message;
    }
    return errors;
  }

  /** The JSON body of ``POST /contact``. */
  function buildPayload(values, formStartedAt) {
    const payload = {
      name: (values.name || "").trim(),
      email: (values.email || "").trim(),
      message: (values.message || "").trim(),
      consent: values.consent === true,
      website: values.website || "",
      formStartedAt: formStartedAt,
    };
    const subject = (values.subject || "").trim();
    if (subject) payload.subject = subject;
    return payload;
  }

  /** Seconds to wait: the Retry-After header when the browser may read it, else the number in the message. */
  function retryAfterSeconds(header, message) {
    const fromHeader = parseInt(header || "", 10);
    if (Number.isFinite(fromHeader) && fromHeader >= 0) return fromHeader;
    const match = /(\d+)\s*second/.exec(message || "");
    return match ? parseInt(match[1], 10) : null;
  }

  function waitPhrase(seconds) {
    if (seconds === null) return "a little later";
    if (seconds < 90) return "in " + seconds + " second" + (seconds === 1 ? "" : "s");
    return "in about " + Math.ceil(seconds / 60) + " minutes";
  }

  /**
   * What to tell the person about one answer: ``{kind, message, fields, nextToken, refreshToken}``.
   * ``status`` 0 means the request never got an answer (network, CORS).
   */
  function describeOutcome(status, body, retryAfterHeader) {
    const data = body && typeof body === "object" ? body : {};
    const error = data.error && typeof data.error === "object" ? data.error : {};
    const code = error.code || "";
    const result = { kind: "error", message: "", fields: {}, nextToken: data.nextToken || null, refreshToken: false };
    if (status === 200 && data.status === "sent") {
      result.kind = "sent";
      result.message = "Thank you, your message was sent. We will answer you soon.";
    } else if (status === 202 && data.status === "queued") {
      result.kind = "queued";
      result.message = "Thank you, we have your message. Delivery is delayed for a moment and will happen " +
        "automatically: there is no need to send it again.";
    } else if (status === 429) {
      result.kind = "rate_limited";
      result.message = "You have sent several messages in a short time. Please try again " +
        waitPhrase(retryAfterSeconds(retryAfterHeader, error.message)) + ".";
    } else if (status === 400 && code === "validation_error") {
      result.kind = "validation";
      result.fields = error.fields && typeof error.fields === "object" ? error.fields : {};
      result.message = "Some fields need your attention.";
    } else if (status === 403 && code === "origin_not_allowed") {
      result.kind = "refused";
      result.message = "This page is not allowed to send messages to the contact service " +
        "(its address is not on the service's list of allowed origins).";
    } else if (status === 403 && (code === "csrf_missing" || code === "csrf_invalid")) {
      result.kind = "refused";
      result.refreshToken = true;
      result.message = "The form's security token had expired or was already used. We fetched a new one: " +
        "please press Send again.";
    } else if (status === 503) {
      result.kind = "unavailable";
      result.message = "The contact service is unavailable right now and your message was NOT sent. " +
        "Please try again " + waitPhrase(retryAfterSeconds(retryAfterHeader, error.message)) + ".";
    } else if (status === 0) {
      result.message = "We could not reach the contact service. Check your connection and try again.";
    } else if (status === 413 || status === 415 || (status === 400 && code)) {
      result.message = error.message || "The message could not be sent as it is.";
    } else {
      result.message = "Something went wrong on our side and your message was not sent. Please try again later.";
    }
    if (data.requestId) result.requestId = data.requestId;
    return result;
  }

  /** Wire the form in ``doc`` to the API named in ``/config.json``. */
  function mount(doc, win) {
    const form = doc.getElementById("contact-form");
    if (!form) return;
    const send = doc.getElementById("send");
    const resultBox = doc.getElementById("result");
    const started = doc.getElementById("formStartedAt");
    const state = { apiUrl: null, token: null, busy: false, submitted: false, touched: {} };

    function input(name) { return doc.getElementById(name); }
    function valueOf(name) {
      const el = input(name);
      if (!el) return "";
      return el.type === "checkbox" ? el.checked : el.value;
    }
    function values() {
      const out = { website: valueOf("website") };
      for (const name of FIELDS) out[name] = valueOf(name);
      return out;
    }
    function showFieldError(name, message) {
      const el = input(name);
      const slot = doc.getElementById(name + "-error");
      if (slot) slot.textContent = message || "";
      if (el) el.setAttribute("aria-invalid", message ? "true" : "false");
    }
    function showResult(outcome) {
      resultBox.hidden = false;
      resultBox.className = "result " + outcome.kind;
      resultBox.textContent = outcome.message;
      resultBox.dataset.kind = outcome.kind;
      if (outcome.requestId) {
        const id = doc.createElement("span");
        id.className = "request-id";
        id.textContent = "Request id: " + outcome.requestId;
        resultBox.appendChild(id);
      }
    }
    function updateButton() {
      send.disabled = state.busy || !state.token;
    }
    function resetTiming() {
      started.value = String(Date.now());
    }

    async function call(method, path, headers, body) {
      try {
        const response = await win.fetch(state.apiUrl + path, {
          method: method, mode: "cors", credentials: "omit", cache: "no-store", headers: headers, body: body,
        });
        let data = null;
        try { data = await response.json(); } catch (ignored) { data = null; }
        return { status: response.status, body: data, retryAfter: response.headers.get("Retry-After") };
      } catch (networkError) {
        return { status: 0, body: null, retryAfter: null };
      }
    }

    async function fetchToken() {
      state.token = null;
      updateButton();
      const answer = await call("GET", "/contact/token", {}, undefined);
      if (answer.status === 200 && answer.body && answer.body.token) {
        state.token = answer.body.token;
      } else {
        showResult(describeOutcome(answer.status, answer.body, answer.retryAfter));
      }
      updateButton();
    }

    for (const name of FIELDS) {
      const el = input(name);
      if (!el) continue;
      const check = function () {
        if (state.touched[name] || state.submitted) showFieldError(name, validateField(name, valueOf(name)));
      };
      el.addEventListener(el.type === "checkbox" ? "change" : "input", check);
      el.addEventListener("blur", function () { state.touched[name] = true; check(); });
    }
    const message = input("message");
    const counter = doc.getElementById("message-count");
    message.addEventListener("input", function () { counter.textContent = String(message.value.trim().length); });

    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      if (state.busy) return;
      state.submitted = true;
      const current = values();
      const errors = validateForm(current);
      for (const name of FIELDS) showFieldError(name, errors[name] || "");
      const firstInvalid = FIELDS.find(function (name) { return errors[name]; });
      if (firstInvalid) {
        showResult({ kind: "validation", message: "Some fields need your attention.", fields: errors });
        input(firstInvalid).focus();
        return;
      }
      state.busy = true;
      updateButton();
      send.textContent = "Sending…";
      const answer = await call(
        "POST",
        "/contact",
        { "Content-Type": "application/json", "X-CSRF-Token": state.token },
        JSON.stringify(buildPayload(current, parseInt(started.value, 10))),
      );
      const outcome = describeOutcome(answer.status, answer.body, answer.retryAfter);
      if (outcome.nextToken) state.token = outcome.nextToken;
      for (const name of Object.keys(outcome.fields)) showFieldError(name, outcome.fields[name]);
      showResult(outcome);
      state.busy = false;
      send.textContent = "Send";
      if (outcome.kind === "sent" || outcome.kind === "queued") {
        form.reset();
        counter.textContent = "0";
        state.submitted = false;
        state.touched = {};
        resetTiming();
      }
      if (outcome.refreshToken) await fetchToken();
      updateButton();
    });

    resetTiming();
    win.fetch("/config.json", { cache: "no-store" })
      .then(function (response) { return response.json(); })
      .then(function (config) {
        state.apiUrl = String(config.apiUrl).replace(/\/$/, "");
        if (config.sandboxUrl) doc.getElementById("inbox-link").href = config.sandboxUrl + "/";
        return fetchToken();
      })
      .catch(function () {
        showResult(describeOutcome(0, null, null));
      });
  }

  return {
    FIELDS: FIELDS,
    buildPayload: buildPayload,
    describeOutcome: describeOutcome,
    mount: mount,
    retryAfterSeconds: retryAfterSeconds,
    validateField: validateField,
    validateForm: validateForm,
  };
});
