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
 * their fields (one element per field, made once and reused) and moves focus to the first, announces
 * every outcome in a live region, keeps the visitor's text and sends it again by itself when the API's
 * Retry-After says after a 429/503, uses the rolling `nextToken` (a corrected form goes out at once),
 * sends a Turnstile widget's `cf-turnstile-response` as `turnstileToken`, and gives up on an answer that has not
 * come in 30 s (the text kept). See docs/browser-snippet.md.
 */
(() => {
  "use strict";

  // The contract's fields: anything else in the body is refused with 400, so nothing else is sent.
  const FIELDS = ["name", "email", "subject", "message", "consent", "website", "turnstileToken"];
  const MESSAGES = {
    sent: "Thank you, your message was sent.",
    queued: "Thank you, we have your message. Its delivery is delayed and will happen by itself: " +
      "no need to send it again.",
    invalid: "Please check the highlighted fields.",
    wait: "Not sent yet. Your message is kept here and we will try again in {t}.", // {t} in words, {s} seconds
    captcha: "Please complete the verification, then send again.",
    failed: "Your message could not be sent. It is kept here: please try again.",
    offline: "The contact service could not be reached. Your message is kept here: please try again.",
    sending: "Sending…",
  };
  const INVALID = "aria-invalid";
  const DESCRIBED = "aria-describedby";
  const BUSY = "aria-busy";
  const doc = document;
  const now = Date.now;

  /** Seconds to wait after a 429/503: the Retry-After header (the API exposes it), else a minute; 1 s to 1 h. */
  const waitSeconds = (header) => {
    const s = header ? +header : NaN;
    return s >= 0 ? Math.max(1, Math.min(s, 3600)) : 60;
  };

  /** A wait as a person says it: "42 seconds", "about a minute", "about 15 minutes", "about an hour". */
  const inWords = (s) => {
    const m = Math.round(s / 60);
    return s < 60 ? `${s} second${s > 1 ? "s" : ""}` : "about " + (m < 2 ? "a minute" : m < 60 ? m + " minutes" : "an hour");
  };

  /** The JSON body from the form's values: contract fields only, trimmed (not the honeypot: whitespace there
   * is a bot's answer too), empty optional ones left out. */
  const payload = (values, startedAt) => {
    const body = {};
    for (const key of FIELDS) {
      const v = typeof values[key] === "string" && key !== "website" ? values[key].trim() : values[key];
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
    const said = (kind, more) => ({ kind, text: t[kind], ...more });
    if (status === 200 && state === "sent") return said("sent");
    if (status === 202 && state === "queued") return said("queued");
    if (code === "validation_error") return said("invalid", { fields: error.fields || {} });
    if (status === 429 || status === 503) {
      const s = waitSeconds(retryAfter);
      return { kind: "wait", text: t.wait.replace("{s}", s).replace("{t}", inWords(s)), retry: s };
    }
    if (code === "csrf_missing" || code === "csrf_invalid") return { kind: "token", text: t.failed };
    if (code === "captcha_invalid") return said("captcha");
    // No answer the page may read: the network, or a refused origin (its 403 carries no CORS headers).
    return { kind: "error", text: !status ? t.offline : status < 500 && error.message ? error.message : t.failed };
  };

  const mount = (form, options) => {
    const base = String(options.api || "").replace(/\/+$/, "");
    const t = { ...MESSAGES, ...options.messages };
    const each = (fn) => [...form.elements].forEach(fn);
    let token = null;
    let tokenAt = 0;
    let expires = 0;
    // The API's fill-time rule (CONTACT_MIN_FILL_SECONDS, 3 by default): a submission sent sooner than this
    // after its token was issued is judged spam and answered like "sent". A token is never used younger.
    const minFill = 1000 * (options.minFillSeconds == null ? 3 : +options.minFillSeconds || 0);
    let startedAt = 0;
    let busy = false;
    let retries = 0;
    let timer = 0;
    let warned = false;
    // The live region exists, empty, from the start: a screen reader only announces changes to a region it knows.
    const status = form.querySelector("[data-contact-status]") || form.appendChild(doc.createElement("p"));
    status.setAttribute("role", "status");
    status.setAttribute("aria-live", "polite");

    const announce = (kind, text) => {
      status.dataset.kind = kind;
      status.textContent = text;
    };

    const call = async (method, path, headers, body) => {
      try {
        // No cookies go to another origin. An answer that never comes would leave the form "Sending…" for good:
        // 30 s (API Gateway's own limit is 29) ends the wait as "could not be reached", the text kept.
        // (Browsers older than AbortSignal.timeout, 2022, wait as long as the network lets them.)
        const signal = AbortSignal.timeout && AbortSignal.timeout(30000);
        const r = await fetch(base + path, { method, headers, body, signal });
        const data = await r.json().catch(() => null);
        return { status: r.status, data, retryAfter: r.headers.get("Retry-After") };
      } catch (offline) {
        // A refused origin's 403 has no CORS headers, so the browser hides it: the page sees this. Tell the owner.
        if (!warned) {
          warned = true;
          console.warn(`no answer from ${base} (is ${location.origin} in CONTACT_ALLOWED_ORIGINS?)`);
        }
        return { status: 0 };
      }
    };

    // A token and when its fill time started: now for a fetched one, the replaced token's for a nextToken.
    const keep = (next, seconds, at = now()) => {
      token = next;
      tokenAt = at;
      expires = now() + seconds * 1000 - 30000;
    };

    const fetchToken = async () => {
      const a = await call("GET", "/contact/token", {});
      if (a.status === 200 && a.data && a.data.token) {
        keep(a.data.token, a.data.expiresIn || 3600);
        startedAt = startedAt || now();
      }
      return a;
    };

    // A field's error: in its [data-error-for] element, or in one made once, after the field and outside any
    // <label> (inside one it would become part of the field's name), tied to the field by aria-describedby.
    const mark = (el, text) => {
      let s = form.querySelector(`[data-error-for="${el.name}"]`);
      if (!s) {
        s = doc.createElement("span");
        s.className = "contact-error";
        s.dataset.errorFor = el.name;
        (el.closest("label") || el).after(s);
      }
      s.id = s.id || `${el.id || "contact-" + el.name}-error`;
      const by = el.getAttribute(DESCRIBED) || "";
      if (!by.split(" ").includes(s.id)) el.setAttribute(DESCRIBED, `${by} ${s.id}`.trim());
      s.textContent = text;
      el.setAttribute(INVALID, !!text);
    };

    // Show (or clear) every field's error; focus the first field in error. The first such field, or null.
    const showErrors = (fields) => {
      let first = null;
      each((el) => {
        const text = fields[el.name] || "";
        if (FIELDS.includes(el.name) && (text || el.hasAttribute(INVALID))) {
          mark(el, text);
          if (text && !first) first = el;
        }
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
      form.setAttribute(BUSY, "true");
      announce("sending", t.sending);
      let a = !token || now() > expires ? await fetchToken() : {};
      if (token) {
        // A fresh token (a retry, an old tab's) or a form just cleared: let the fill time pass first.
        const young = Math.max(tokenAt, startedAt) + minFill + 250 - now();
        if (young > 0 && minFill) await new Promise((done) => setTimeout(done, young));
        a = await call("POST", "/contact", { "Content-Type": "application/json", "X-CSRF-Token": token },
          JSON.stringify(payload(values(), startedAt)));
        const d = a.data || {};
        const next = d.nextToken || (d.error && d.error.nextToken);
        // Single use, whatever the answer but a 429 (refused before the token is looked at); a Turnstile token
        // too, so the widget is renewed after anything but a 429.
        if (a.status !== 429) {
          token = null;
          if (self.turnstile) self.turnstile.reset();
        }
        if (next) keep(next, 3600, tokenAt); // it keeps the fill time of the token it replaces (contract §6)
      }
      busy = false;
      form.removeAttribute(BUSY);
      const o = outcome(a.status, a.data, a.retryAfter, t);
      if (o.kind === "token" && !again) return send(true); // an old tab's token: one fresh try
      if (o.fields && !showErrors(o.fields)) o.text = `${t.failed} ${JSON.stringify(o.fields)}`;
      if (o.kind === "wait") {
        if (retries++ < 3) timer = setTimeout(send, o.retry * 1000);
        else [o.kind, o.text] = ["error", t.failed]; // three automatic tries in a row: over to the visitor
        if (!token) fetchToken(); // now, so it has aged past the fill time when the next send uses it
      }
      announce(o.kind, o.text);
      if (o.kind === "sent" || o.kind === "queued") {
        form.reset();
        showErrors({});
        startedAt = now();
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

    // An edit clears its field's error: what is shown is about what is there now.
    const onInput = ({ target }) => {
      if (target.getAttribute(INVALID) === "true") mark(target, "");
    };

    form.noValidate = true;
    form.addEventListener("submit", onSubmit);
    form.addEventListener("input", onInput);
    // The token is fetched when the form is shown (the API's fill-time rule counts from its issue).
    const observer = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) {
        observer.disconnect();
        fetchToken();
      }
    });
    observer.observe(form);
    return {
      destroy() {
        clearTimeout(timer);
        observer.disconnect();
        form.removeEventListener("submit", onSubmit);
        form.removeEventListener("input", onInput);
      },
    };
  };

  self.ContactForm = { mount, outcome, payload, waitSeconds, inWords, MESSAGES };
  const start = () =>
    doc.querySelectorAll("form[data-contact-api]").forEach((form) =>
      mount(form, { api: form.dataset.contactApi, minFillSeconds: form.dataset.minFillSeconds }));
  if (doc.readyState === "loading") doc.addEventListener("DOMContentLoaded", start);
  else start();
})();
