/*
 * The demo page's own few lines. The form itself is run by the drop-in client, /contact-form.js
 * (contact_sdk/client/contact-form.js), exactly as a site would use it; this file only tells it where the
 * API is (from /config.json, since the local stack picks its ports at start), links the sandbox inbox,
 * and keeps the message's character count.
 */
(() => {
  "use strict";
  const form = document.getElementById("contact-form");
  const message = document.getElementById("message");
  const counter = document.getElementById("message-count");
  const count = () => { counter.textContent = String(message.value.trim().length); };
  message.addEventListener("input", count);
  form.addEventListener("contact:result", count); // the form is cleared after a send
  fetch("/config.json", { cache: "no-store" })
    .then((response) => response.json())
    .then((config) => {
      if (config.sandboxUrl) document.getElementById("inbox-link").href = config.sandboxUrl + "/";
      window.demoForm = ContactForm.mount(form, { api: config.apiUrl });
    })
    .catch(() => {
      const status = document.getElementById("result");
      status.dataset.kind = "error";
      status.textContent = "The demo page could not read its configuration (/config.json).";
    });
})();
