// Drives the official Resend Node SDK against the sandbox and prints what each call answered, as JSON.
//
// Run by tests/sandbox/test_sandbox_node_sdk.py, which judges the answers (this script asserts
// nothing). RESEND_BASE_URL points the SDK at the sandbox; RESEND_API_KEY is the sandbox's key.
//
//   node sdk_calls.mjs main                 send, idempotency, batch, get, list pages, update, cancel, errors
//   node sdk_calls.mjs get ID [ID...]       read emails back (after the test moved the sandbox's clock)
//   node sdk_calls.mjs burst N              N list calls in a row (the test sets a low rate limit first)
//   node sdk_calls.mjs domains              list the domains, then get the first one
//   node sdk_calls.mjs methods              every call the SDK exposes on emails, batch, domains, apiKeys
//   node sdk_calls.mjs call PATH ARGS       one call, e.g. call emails.attachments.get '[{"emailId": "...", "id": "..."}]'
import { Resend } from "resend";

let resend; // made once the command line is known good (the SDK throws without an API key)

// Only what the test needs from an SDK answer: data, error, and the headers that matter.
function outcome({ data, error, headers }) {
  const kept = {};
  for (const name of ["retry-after", "ratelimit-limit", "ratelimit-remaining"]) {
    if (headers && headers[name] !== undefined) kept[name] = headers[name];
  }
  return { data: data ?? null, error: error ?? null, headers: kept };
}

function email(overrides = {}) {
  return {
    from: "Site <noreply@example.com>",
    to: ["delivered@resend.dev"],
    subject: "From the Node SDK",
    html: "<p>hi</p>",
    ...overrides,
  };
}

async function main() {
  const out = {};
  out.send = outcome(await resend.emails.send(email({ replyTo: "visitor@example.org", tags: [{ name: "source", value: "node" }] })));
  out.get = outcome(await resend.emails.get(out.send.data?.id));
  out.idempotent_first = outcome(await resend.emails.send(email({ subject: "once" }), { idempotencyKey: "node-order-7" }));
  out.idempotent_again = outcome(await resend.emails.send(email({ subject: "once" }), { idempotencyKey: "node-order-7" }));
  out.idempotent_conflict = outcome(await resend.emails.send(email({ subject: "other" }), { idempotencyKey: "node-order-7" }));
  out.batch = outcome(await resend.batch.send([email({ subject: "b1" }), email({ subject: "b2" })]));

  // Page through everything with the loop the SDK documents, two at a time.
  out.pages = [];
  let page = outcome(await resend.emails.list({ limit: 2 }));
  for (let guard = 0; guard < 20; guard += 1) {
    out.pages.push(page);
    if (page.error || !page.data.has_more) break;
    const last = page.data.data[page.data.data.length - 1].id;
    page = outcome(await resend.emails.list({ limit: 2, after: last }));
  }
  const oldest = out.pages.at(-1)?.data?.data?.at(-1)?.id;
  out.before = outcome(await resend.emails.list({ limit: 2, before: oldest }));

  out.scheduled_kept = outcome(await resend.emails.send(email({ subject: "later", scheduledAt: "in 1 hour" })));
  out.scheduled_dropped = outcome(await resend.emails.send(email({ subject: "never", scheduledAt: "in 1 hour" })));
  out.update = outcome(await resend.emails.update({ id: out.scheduled_kept.data?.id, scheduledAt: "in 2 hours" }));
  out.cancel = outcome(await resend.emails.cancel(out.scheduled_dropped.data?.id));
  out.cancel_again = outcome(await resend.emails.cancel(out.scheduled_dropped.data?.id));

  out.invalid = outcome(await resend.emails.send(email({ from: "not an address" })));
  out.not_found = outcome(await resend.emails.get("4ef9a417-02e9-4d39-ad75-9611e0fcc33c"));
  out.unknown_endpoint = outcome(await resend.broadcasts.list());
  return out;
}

async function get(ids) {
  const out = {};
  for (const id of ids) out[id] = outcome(await resend.emails.get(id));
  return out;
}

async function burst(count) {
  const out = [];
  for (let index = 0; index < count; index += 1) out.push(outcome(await resend.emails.list({ limit: 1 })));
  return out;
}

async function domains() {
  const listed = outcome(await resend.domains.list());
  const first = listed.data?.data?.[0]?.id;
  return { list: listed, get: outcome(await resend.domains.get(first)) };
}

// The resources in scope and every function reachable from them (nested resources included), by dotted path.
const RESOURCES = ["emails", "batch", "domains", "apiKeys"];

function methods() {
  const found = [];
  const walk = (target, prefix) => {
    for (const name of Object.getOwnPropertyNames(Object.getPrototypeOf(target))) {
      if (name !== "constructor" && typeof target[name] === "function") found.push(`${prefix}.${name}`);
    }
    for (const [name, value] of Object.entries(target)) {
      if (name !== "resend" && value && typeof value === "object") walk(value, `${prefix}.${name}`);
    }
  };
  for (const resource of RESOURCES) walk(resend[resource], resource);
  return found.sort();
}

// What a call answered, JSON-safe: bytes (downloadRaw's content) as base64.
function jsonable(value) {
  return JSON.parse(
    JSON.stringify(value ?? null, (key, item) => {
      if (item instanceof ArrayBuffer) return { base64: Buffer.from(item).toString("base64") };
      if (key === "headers" && item && typeof item === "object") return outcome({ headers: item }).headers;
      return item;
    }),
  );
}

async function call(path, rawArgs) {
  const parts = path.split(".");
  const name = parts.pop();
  const owner = parts.reduce((target, part) => target[part], resend);
  if (typeof owner?.[name] !== "function") throw new Error(`no such call: ${path}`);
  return jsonable(await owner[name](...JSON.parse(rawArgs ?? "[]")));
}

const [command, ...args] = process.argv.slice(2);
const commands = {
  main: () => main(),
  get: () => get(args),
  burst: () => burst(Number(args[0])),
  domains: () => domains(),
  methods: () => methods(),
  call: () => call(args[0], args[1]),
};
if (!commands[command]) {
  console.error(`usage: node sdk_calls.mjs main | get ID... | burst N | domains | methods | call PATH ARGS (got ${command})`);
  process.exit(2);
}
resend = new Resend(process.env.RESEND_API_KEY);
process.stdout.write(JSON.stringify(await commands[command]()));
