// Exercises the generated client against a running server:
//   node dist/test/smoke.js BASE_URL ADMIN_TOKEN RAW_MESSAGE_FILE
// Exits non-zero on the first failed assertion.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createEiderClient } from "../src/index.js";

const [baseUrl, adminToken, rawFile] = process.argv.slice(2);
if (!baseUrl || !adminToken || !rawFile) {
  console.error("usage: smoke.js BASE_URL ADMIN_TOKEN RAW_MESSAGE_FILE");
  process.exit(2);
}
const raw = readFileSync(rawFile);

const admin = createEiderClient(baseUrl, adminToken);
const created = await admin.POST("/users", {
  body: { username: "ts-user", password: "ts password", address: "ts@example.com" },
});
assert.equal(created.response.status, 201);
assert.equal(created.data?.username, "ts-user");

const anon = createEiderClient(baseUrl);
const auth = await anon.POST("/authenticate", {
  body: { username: "ts@example.com", password: "ts password" },
});
assert.equal(auth.response.status, 200);
const token = auth.data!.token;

const bad = await anon.POST("/authenticate", { body: { username: "ts-user", password: "wrong" } });
assert.equal(bad.response.status, 401);
assert.equal(bad.error?.code, "unauthorized");

const me = createEiderClient(baseUrl, token);
const boxes = await me.GET("/users/{user}/mailboxes", { params: { path: { user: "me" } } });
assert.equal(boxes.response.status, 200);
const inbox = boxes.data!.mailboxes.find((m) => m.path === "INBOX");
assert.ok(inbox, "INBOX listed");

const up = await me.POST("/users/{user}/mailboxes/{mailbox}/messages", {
  params: { path: { user: "me", mailbox: inbox.id } },
  // A raw message is not JSON: send the bytes as they are.
  body: raw as unknown as string,
  bodySerializer: (b) => b,
  headers: { "Content-Type": "message/rfc822" },
});
assert.equal(up.response.status, 201);
const id = up.data!.id;

const list = await me.GET("/users/{user}/mailboxes/{mailbox}/messages", {
  params: { path: { user: "me", mailbox: inbox.id }, query: { limit: 5 } },
});
assert.equal(list.data?.messages[0]?.id, id);

const msg = await me.GET("/users/{user}/mailboxes/{mailbox}/messages/{message}", {
  params: { path: { user: "me", mailbox: inbox.id, message: id } },
});
assert.equal(msg.data?.size, raw.length);

const eml = await me.GET("/users/{user}/mailboxes/{mailbox}/messages/{message}/message.eml", {
  params: { path: { user: "me", mailbox: inbox.id, message: id } },
  parseAs: "arrayBuffer",
});
assert.ok(Buffer.from(eml.data as ArrayBuffer).equals(raw), "message.eml is byte-identical");

const tooBig = await me.GET("/users/{user}/mailboxes/{mailbox}/messages", {
  params: { path: { user: "me", mailbox: inbox.id }, query: { limit: 1000 } },
});
assert.equal(tooBig.response.status, 400);
assert.equal(tooBig.error?.field, "limit");

console.log("typescript client: ok");
