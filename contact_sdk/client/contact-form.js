/*
 * contact-sdk drop-in form client: vanilla JS (ES2017, every current browser), no build step. MIT.
 *
 *   <form data-contact-api="https://api.example.com"> ...fields named name, email, subject,
 *   message, consent, website (the honeypot)... </form>
 *   <script src="contact-form.js" defer></script>
 *
 * or from code (a React / Next.js effect): const form = ContactForm.mount(el, {api}); ... form.destroy().
 *
 * It fetches the CSRF token when the form is shown, posts JSON, puts the API's per-field errors next to
 * their fields and moves focus to the first, announces every outcome in a live region, keeps the
 * visitor's text and tries again by itself after a 429/503, uses the rolling `nextToken`, and sends a
 * Turnstile widget's `cf-turnstile-response` as `turnstileToken`. See docs/browser-snippet.md.
 */
((root, factory) => {
  "use strict";
  const api = factory();
  if (typeof module === "object" && module.exports) {
    module.exports = api; // Node: the pure helpers, for tests
    return;
  }
  root.ContactForm = api;
  const start = () =>
    document.querySelectorAll("form[data-contact-api]").forEach((form) =>
      api.mount(form, { api: form.getAttribute("data-contact-api") }));
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})(typeof self === "object" ? self : globalThis, () => {
  "use strict";

  // The contract's fields: anything else in the body is refused with 400, so nothing else is sent.
  const FIELDS = ["name", "email", "subject", "message", "consent", "website", "turnstileToken"];
  const MESSAGES = {
    sent: "Thank you, your message was sent.",
    queued: "Thank you, we have your message. Its delivery is delayed and will happen by itself: " +
      "no need to send it again.",
    invalid: "Please check the highlighted fields.",
    wait: "Not sent yet. Your message is kept here and we will try again in {s} seconds.",
    captcha: "Please complete the verification, then send again.",
    refused: "This page may not send messages to the contact service.",
    failed: "Your message could not be sent. It is kept here: please try again.",
    offline: "The contact service could not be reached. Your message is kept here: please try again.",
    sending: "Sending…",
  };

  /**
   * Seconds to wait after a 429/503: the Retry-After header when the page may read it (a cross-origin
   * page may not, unless the API exposes it), else the seconds the error message names, else a minute.
   */
  const waitSeconds = (header, message) => {
    const m = /(\d+) second/.exec(message);
    const s = header ? +header : m ? +m[1] : NaN;
    return s >= 0 ? Math.max(1, Math.min(s, 3600)) : 60;
  };

  /** The JSON body from the form's values: contract fields only, trimmed, empty optional ones left out. */
  const payload = (values, startedAt) => {
    const body = {};
    for (const key of FIELDS) {
      const v = typeof values[key] === "string" ? values[key].trim() : values[key];
      if (v !== undefined && (v !== "" || key === "website")) body[key] = v;
    }
    body.consent = values.consent === true;
    if (startedAt) body.formStartedAt = startedAt;
    return body;
  };

  /** What one answer means: {kind, text, fields?, retry?}; kind is sent|queued|invalid|wait|token|captcha|error. */
  const outcome = (status, data, retryAfter, t = MESSAGES) => {
    const error = (data && data.error) || {};
    const code = error.code;
    const state = data && data.status;
    if (status === 200 && state === "sent") return { kind: "sent", text: t.sent };
    if (status === 202 && state === "queued") return { kind: "queued", text: t.queued };
    if (code === "validation_error") return { kind: "invalid", text: t.invalid, fields: error.fields || {} };
    if (status === 429 || status === 503) {
      const s = waitSeconds(retryAfter, error.message);
      return { kind: "wait", text: t.wait.replace("{s}", s), retry: s };
    }
    if (code === "csrf_missing" || code === "csrf_invalid") return { kind: "token", text: t.failed };
    if (code === "captcha_invalid") return { kind: "captcha", text: t.captcha };
    if (code === "origin_not_allowed") return { kind: "error", text: t.refused };
    if (!status) return { kind: "error", text: t.offline };
    return { kind: "error", text: status < 500 && error.message ? error.message : t.failed };
  };

  const mount = (form, options) => {
    const base = String(options.api || "").replace(/\/+$/, "");
    const t = { ...MESSAGES, ...options.messages };
    const doc = form.ownerDocument;
    const each = (fn) => Array.prototype.forEach.call(form.elements, fn);
    let token = null;
    let expires = 0;
    let startedAt = 0;
    let busy = false;
    let retries = 0;
    let timer = 0;
    let observer = null;
    let status = form.querySelector("[data-contact-status]");
    if (!status) status = form.appendChild(doc.createElement("p"));
    status.setAttribute("role", "status");
    status.setAttribute("aria-live", "polite");

    const announce = (kind, text) => {
      status.dataset.kind = kind;
      status.textContent = text;
    };

    const call = async (method, path, headers, body) => {
      try {
        const r = await fetch(base + path, { method, headers, body, credentials: "omit" });
        const data = await r.json().catch(() => null);
        return { status: r.status, data, retryAfter: r.headers.get("Retry-After") };
      } catch (offline) {
        return { status: 0 };
      }
    };

    const keep = (next, seconds) => {
      token = next;
      expires = Date.now() + seconds * 1000 - 30000;
    };

    const fetchToken = async () => {
      const a = await call("GET", "/contact/token", {});
      if (a.status === 200 && a.data && a.data.token) {
        keep(a.data.token, a.data.expiresIn || 3600);
        startedAt = startedAt || Date.now();
      }
      return a;
    };

    // The error slot of a field: its [data-error-for] element, or one made after it; tied by aria-describedby.
    const slot = (el) => {
      let s = form.querySelector(`[data-error-for="${el.name}"]`);
      if (!s) {
        s = doc.createElement("span");
        s.className = "contact-error";
        el.after(s);
      }
      s.id = s.id || `${el.id || "contact-" + el.name}-error`;
      const by = (el.getAttribute("aria-describedby") || "").split(" ");
      if (!by.includes(s.id)) el.setAttribute("aria-describedby", by.concat(s.id).join(" ").trim());
      return s;
    };

    // Show (or clear) every field's error; focus the first field in error. The first such field, or null.
    const showErrors = (fields) => {
      let first = null;
      each((el) => {
        const text = fields[el.name] || "";
        if (!FIELDS.includes(el.name) || (!text && !el.hasAttribute("aria-invalid"))) return;
        slot(el).textContent = text;
        el.setAttribute("aria-invalid", !!text);
        if (text && !first) first = el;
      });
      if (first) first.focus();
      return first;
    };

    const values = () => {
      const out = {};
      each((el) => {
        if (el.name === "cf-turnstile-response") out.turnstileToken = el.value;
        else if (FIELDS.includes(el.name)) out[el.name] = el.type === "checkbox" ? el.checked : el.value;
      });
      return out;
    };

    const send = async (again) => {
      busy = true;
      form.setAttribute("aria-busy", "true");
      announce("sending", t.sending);
      let a = !token || Date.now() > expires ? await fetchToken() : {};
      if (token) {
        a = await call("POST", "/contact", { "Content-Type": "application/json", "X-CSRF-Token": token },
          JSON.stringify(payload(values(), startedAt)));
        token = null; // single use, whatever the answer
        if (a.data && a.data.nextToken) keep(a.data.nextToken, 3600);
        // A Turnstile token is single-use too: after anything but a 429 (refused before it is checked), renew it.
        if (a.status !== 429 && self.turnstile) self.turnstile.reset();
      }
      busy = false;
      form.removeAttribute("aria-busy");
      const o = outcome(a.status, a.data, a.retryAfter, t);
      if (o.kind === "token" && !again) return send(true); // an old tab's token: one fresh try
      if (o.fields && !showErrors(o.fields)) o.text = `${t.failed} ${JSON.stringify(o.fields)}`;
      if (o.kind === "wait") {
        if (retries++ < 3) timer = setTimeout(send, o.retry * 1000);
        else Object.assign(o, { kind: "error", text: t.failed }); // three automatic tries in a row: over to the visitor
      }
      announce(o.kind, o.text);
      if (o.kind === "sent" || o.kind === "queued") {
        form.reset();
        showErrors({});
        startedAt = Date.now();
      }
      form.dispatchEvent(new CustomEvent("contact:result", { detail: { status: a.status, kind: o.kind } }));
    };

    const onSubmit = (event) => {
      event.preventDefault();
      if (busy) return;
      clearTimeout(timer);
      retries = 0;
      // The browser's own checks first (required, type=email, maxlength): no round trip for a blank field.
      const invalid = {};
      each((el) => {
        if (el.willValidate && !el.checkValidity()) invalid[el.name] = el.validationMessage;
      });
      if (showErrors(invalid)) announce("invalid", t.invalid);
      else send();
    };

    form.noValidate = true;
    form.addEventListener("submit", onSubmit);
    // The token is fetched when the form is shown (the API's fill-time rule counts from its issue).
    if (self.IntersectionObserver) {
      observer = new IntersectionObserver((entries) => {
        if (entries.some((e) => e.isIntersecting)) {
          observer.disconnect();
          fetchToken();
        }
      });
      observer.observe(form);
    } else fetchToken();
    return {
      destroy() {
        clearTimeout(timer);
        if (observer) observer.disconnect();
        form.removeEventListener("submit", onSubmit);
      },
    };
  };

  return { mount, outcome, payload, waitSeconds, MESSAGES };
});
