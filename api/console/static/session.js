// The signed-in token: kept for this browser tab only (sessionStorage), read, never trusted:
// the role it names only decides which views to offer; the API checks every call.

const KEY = 'radflow.console.token';

/** The claims of a JWT, without verifying it (the server does). */
export function claims(token) {
  const part = token.split('.')[1];
  if (!part) throw new Error('this is not a JSON Web Token (it has no payload part)');
  const bytes = Uint8Array.from(atob(part.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0));
  const data = JSON.parse(new TextDecoder().decode(bytes));
  if (typeof data.role !== 'string' || typeof data.sub !== 'string') {
    throw new Error('the token names no role and subject');
  }
  return data;
}

/** The session in this tab, or null. */
export function current() {
  const token = sessionStorage.getItem(KEY);
  if (!token) return null;
  try {
    return { token, ...describe(token) };
  } catch {
    sessionStorage.removeItem(KEY);
    return null;
  }
}

/** Role, subject and expiry of a token. */
export function describe(token) {
  const c = claims(token);
  return { role: c.role, subject: c.sub, expiresAt: c.exp ? c.exp * 1000 : null };
}

export function expired(session, now = Date.now()) {
  return session.expiresAt !== null && session.expiresAt <= now;
}

export function save(token) {
  sessionStorage.setItem(KEY, token);
}

export function clear() {
  sessionStorage.removeItem(KEY);
}
