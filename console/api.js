// The operations API (/ops, scope utilhub/ops) with a bearer token, and how the token is had.
//
// config.json says where the API is and how to sign in:
//   {"mode": "local", "apiUrl": "", "tokenUrl": "/oauth2/token", "clientId": "ops", "clientSecret": "ops-local-secret"}
//     written by `make run` itself: the local operators' client and its documented local secret, as the CLI uses them.
//     Local only: a deployed console never has a secret.
//   {"mode": "hosted-ui", "apiUrl": "", "authUrl": "https://<domain>.auth.<region>.amazoncognito.com", "clientId": "..."}
//     written by `make console-publish`: the operator signs in through the user pool's hosted UI
//     (authorization code + PKCE, a public client); "" as apiUrl: /ops/* is served by the same distribution.

const TOKEN = "utilhub.console.token";
const VERIFIER = "utilhub.console.verifier";
const STATE = "utilhub.console.state";
const RETURN_TO = "utilhub.console.returnTo";

let config = null;

export async function loadConfig() {
  const answer = await fetch("config.json", { cache: "no-store" });
  if (!answer.ok) throw new Error(`config.json: HTTP ${answer.status}`);
  config = await answer.json();
  return config;
}

function base64url(bytes) {
  return btoa(String.fromCharCode(...new Uint8Array(bytes))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function randomText() {
  return base64url(crypto.getRandomValues(new Uint8Array(32)));
}

// the page's own address, as the client's callback URL names it (the distribution's root, not /index.html)
function redirectUri() {
  return `${location.origin}${location.pathname.replace(/index\.html$/, "")}`;
}

function remember(answer) {
  const token = { value: answer.access_token, expiresAt: Date.now() + (answer.expires_in - 60) * 1000 };
  sessionStorage.setItem(TOKEN, JSON.stringify(token));
  return token.value;
}

function remembered() {
  const token = JSON.parse(sessionStorage.getItem(TOKEN) || "null");
  return token && token.expiresAt > Date.now() ? token.value : null;
}

async function tokenRequest(url, form) {
  const answer = await fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(form),
  });
  const body = await answer.json().catch(() => ({}));
  if (!answer.ok) throw new Error(`sign-in refused: ${body.error || answer.status} ${body.error_description || ""}`);
  return remember(body);
}

async function signInThroughHostedUi() {
  const verifier = randomText();
  const state = randomText();
  sessionStorage.setItem(VERIFIER, verifier);
  sessionStorage.setItem(STATE, state);
  sessionStorage.setItem(RETURN_TO, location.hash);
  const challenge = base64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
  const query = new URLSearchParams({
    response_type: "code",
    client_id: config.clientId,
    redirect_uri: redirectUri(),
    scope: "utilhub/ops",
    state,
    code_challenge_method: "S256",
    code_challenge: challenge,
  });
  location.assign(`${config.authUrl}/oauth2/authorize?${query}`);
  return new Promise(() => {}); // the page is leaving
}

async function codeFromHostedUi() {
  const query = new URLSearchParams(location.search);
  const code = query.get("code");
  if (!code) return null;
  if (query.get("state") !== sessionStorage.getItem(STATE)) throw new Error("sign-in answer does not match the request (state)");
  const token = await tokenRequest(`${config.authUrl}/oauth2/token`, {
    grant_type: "authorization_code",
    client_id: config.clientId,
    code,
    redirect_uri: redirectUri(),
    code_verifier: sessionStorage.getItem(VERIFIER) || "",
  });
  history.replaceState(null, "", `${redirectUri()}${sessionStorage.getItem(RETURN_TO) || ""}`);
  sessionStorage.removeItem(VERIFIER);
  sessionStorage.removeItem(STATE);
  return token;
}

export async function token() {
  const kept = remembered();
  if (kept) return kept;
  if (config.mode === "local") {
    return tokenRequest(config.tokenUrl, {
      grant_type: "client_credentials",
      client_id: config.clientId,
      client_secret: config.clientSecret,
    });
  }
  return (await codeFromHostedUi()) || signInThroughHostedUi();
}

export class ApiError extends Error {
  constructor(status, body) {
    super(body.detail || body.title || body.message || `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

// One call of the API: the parsed JSON answer, or an ApiError carrying the problem details.
export async function call(method, path, query) {
  const url = new URL(`${config.apiUrl}${path}`, location.href);
  for (const [name, value] of Object.entries(query || {})) if (value) url.searchParams.set(name, value);
  let answer = await fetch(url, { method, headers: { Authorization: `Bearer ${await token()}` } });
  if (answer.status === 401) {
    sessionStorage.removeItem(TOKEN); // expired or revoked: sign in again, once
    answer = await fetch(url, { method, headers: { Authorization: `Bearer ${await token()}` } });
  }
  const body = await answer.json().catch(() => ({}));
  if (!answer.ok) throw new ApiError(answer.status, body);
  return { status: answer.status, body };
}

// A transaction's id may hold "/" (ORD-1/2): one path segment, percent-encoded.
export function transactionPath(point, id) {
  return `/ops/transactions/${encodeURIComponent(point)}/${encodeURIComponent(id)}`;
}
