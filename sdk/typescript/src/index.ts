// The Eider API client: openapi-fetch typed by the paths generated from
// openapi.yaml (src/schema.ts, `npm run generate`). Every call's path,
// parameters, body and responses are checked by the TypeScript compiler.
import createClient, { type Client } from "openapi-fetch";
import type { components, paths } from "./schema.js";

export type { components, paths };
export type Problem = components["schemas"]["Problem"];
export type MessageSummary = components["schemas"]["MessageSummary"];
export type Message = components["schemas"]["Message"];

/** Creates a client for baseUrl, sending token as a bearer token when given. */
export function createEiderClient(baseUrl: string, token?: string): Client<paths> {
  const client = createClient<paths>({ baseUrl });
  if (token) {
    client.use({
      onRequest({ request }) {
        request.headers.set("Authorization", `Bearer ${token}`);
        return request;
      },
    });
  }
  return client;
}
