// The console's only way to the server: GraphQL over HTTP (POST /graphql) and subscriptions
// over graphql-transport-ws with the graphql-ws client (vendored, unchanged).
import { createClient } from './vendor/graphql-ws/client.js';

/** The server refused the token (expired, forged, for another audience). */
export class SignedOut extends Error {}

/** The role matrix refused the call (the page should not have offered it). */
export class Forbidden extends Error {}

const TOKEN_EXPIRED = 'token expired';

export class Api {
  /** `onSignedOut(reason)` runs once when the server stops accepting the token. */
  constructor(token, onSignedOut) {
    this.token = token;
    this.onSignedOut = onSignedOut;
    this.client = null;
    this.ended = false;
  }

  /** The data of one operation; a top-level error becomes an exception. */
  async request(query, variables = {}) {
    const response = await fetch(new URL('/graphql', location.href), {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${this.token}` },
      body: JSON.stringify({ query, variables }),
    });
    if (response.status === 401) {
      const body = await response.json().catch(() => ({}));
      const message = body?.errors?.[0]?.message || 'the server did not accept the token';
      this.signOut(/expired/i.test(message) ? 'expired' : message);
      throw new SignedOut(message);
    }
    const body = await response.json();
    if (body.errors?.length) {
      const error = body.errors[0];
      if (error.extensions?.code === 'FORBIDDEN') throw new Forbidden(error.message);
      throw new Error(error.message);
    }
    return body.data;
  }

  /** Subscribe; `onData(data)` for each event. Returns the function that unsubscribes. */
  subscribe(query, variables, onData, onError = () => {}) {
    return this.ws().subscribe(
      { query, variables },
      {
        next: (result) => {
          if (result.errors?.length) onError(new Error(result.errors[0].message));
          else if (result.data) onData(result.data);
        },
        error: (error) => onError(error instanceof Error ? error : new Error(closeText(error))),
        complete: () => {},
      },
    );
  }

  ws() {
    if (this.client) return this.client;
    const url = new URL('/graphql', location.href);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    this.client = createClient({
      url: url.href,
      connectionParams: () => ({ authorization: `Bearer ${this.token}` }),
      lazy: true,
      retryAttempts: 20,
      // 4403 is the server refusing the token (at connection_init, or when it expires).
      shouldRetry: (event) => !(event && event.code === 4403),
      on: {
        connected: () => setLive(true),
        closed: (event) => {
          setLive(false);
          if (event && event.code === 4403) {
            this.signOut(event.reason === TOKEN_EXPIRED ? 'expired' : 'the server refused the token');
          }
        },
      },
    });
    return this.client;
  }

  signOut(reason) {
    if (this.ended) return;
    this.close();
    this.onSignedOut(reason);
  }

  close() {
    this.ended = true;
    if (this.client) this.client.dispose();
    this.client = null;
    setLive(false);
  }
}

function closeText(event) {
  if (event && typeof event.code === 'number') return `connection closed (${event.code} ${event.reason || ''})`;
  return String(event);
}

function setLive(connected) {
  const badge = document.getElementById('live');
  if (!badge) return;
  badge.textContent = connected ? 'live' : 'offline';
  badge.className = connected ? 'live on' : 'live';
}
