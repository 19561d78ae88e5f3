// A real OAuth2 / OpenID Connect authorization server for alertmail's tests: panva's oidc-provider
// (a certified OpenID provider) on 127.0.0.1 and a port the system picks. Nothing here is ours
// but the configuration; tests/support/oauth_server.py starts it and drives it.
//
// Stdout carries exactly one line, `{"issuer": "...", "port": N}`, once the server listens;
// everything oidc-provider prints (notices included) goes to stderr. SIGTERM/SIGINT stop it.

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';

// oidc-provider 9 uses URL.parse and crypto.hash: Node.js 20.18 or later (it prefers 22 LTS and
// says so on stderr; 20.18+ works). Say so plainly instead of failing on the first request.
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 20 || (major === 20 && minor < 18)) {
  console.error(`tests/oauth_server needs Node.js 20.18 or later, not ${process.versions.node}`);
  process.exit(1);
}

// oidc-provider writes its configuration notices with console.info, which is stdout.
console.info = console.error;
console.log = console.error;

const { default: Provider, errors } = await import('oidc-provider');

const SMTP_SCOPE = 'smtp.send';
const DEFAULT_ACCESS_TOKEN_TTL = 3600;

function signingKeys() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { keys: [{ ...privateKey.export({ format: 'jwk' }), use: 'sig', alg: 'RS256' }] };
}

function accessTokenTtl(_ctx, _token, client) {
  return client?.access_token_ttl ?? DEFAULT_ACCESS_TOKEN_TTL;
}

// The device flow (RFC 8628) per client: how long a device code lives (`device_code_ttl`, 600 s by
// default), the polling interval announced (`device_poll_interval`; none: the RFC's 5 s), and the
// shortest gap between two polls this server accepts before it answers `slow_down`
// (`device_min_poll_gap`; none: it never does). oidc-provider itself announces no interval and
// never sends slow_down; `devicePolling` below adds both, as RFC 8628 sections 3.2 and 3.5 describe.
const POSITIVE_NUMBERS = ['access_token_ttl', 'device_code_ttl', 'device_poll_interval', 'device_min_poll_gap'];
const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

function validateClientMetadata(_ctx, key, value) {
  if (key === 'access_token_ttl' && value !== undefined && !(Number.isInteger(value) && value > 0)) {
    throw new errors.InvalidClientMetadata('access_token_ttl must be a positive integer');
  }
  if (key === 'roles' && value !== undefined
      && !(Array.isArray(value) && value.every((role) => typeof role === 'string'))) {
    throw new errors.InvalidClientMetadata('roles must be an array of strings');
  }
  if (POSITIVE_NUMBERS.includes(key) && value !== undefined && !(typeof value === 'number' && value > 0)) {
    throw new errors.InvalidClientMetadata(`${key} must be a positive number`);
  }
}

function deviceCodeTtl(_ctx, _code, client) {
  return client?.device_code_ttl ?? 600;
}

// Microsoft Entra's convention for app-only tokens: the scope `{resource}/.default` asks for a
// token for that resource carrying, in `roles`, the Application permissions granted to the app
// with admin consent. Here a client's `roles` metadata is what was granted to it.
const DEFAULT_SCOPE_SUFFIX = '/.default';

function defaultScopeResource(ctx) {
  const requested = String(ctx.oidc.params.scope ?? '').split(' ');
  const scope = requested.find((item) => item.startsWith('https://') && item.endsWith(DEFAULT_SCOPE_SUFFIX));
  return scope?.slice(0, -DEFAULT_SCOPE_SUFFIX.length);
}

// JWT access tokens (RFC 9068) for `.default` resources, shaped like Entra's app-only tokens:
// `roles` instead of `scope`, and `idtyp: "app"`.
async function entraAppOnlyClaims(_ctx, token, jwt) {
  if (token.kind !== 'ClientCredentials') return;
  delete jwt.payload.scope;
  jwt.payload.idtyp = 'app';
  jwt.payload.appid = token.clientId;
  const roles = token.client?.roles ?? [];
  if (roles.length) jwt.payload.roles = roles;
}

// Any login is accepted by the development forms; an address-like login is also the account's
// e-mail address, so that the ID token names the mailbox.
async function findAccount(_ctx, id) {
  return {
    accountId: id,
    async claims() {
      return id.includes('@') ? { sub: id, email: id, email_verified: true } : { sub: id };
    },
  };
}

function configuration(issuer) {
  const smtpResource = `${issuer}/smtp`;
  return {
    jwks: signingKeys(),
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    findAccount,
    scopes: ['openid', 'offline_access', 'email', SMTP_SCOPE],
    claims: { openid: ['sub'], email: ['email', 'email_verified'] },
    pkce: { required: () => true },
    clientDefaults: {
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
    extraClientMetadata: { properties: [...POSITIVE_NUMBERS, 'roles'], validator: validateClientMetadata },
    formats: { customizers: { jwt: entraAppOnlyClaims } },
    // A refresh token on every authorization_code or device_code grant of a client allowed to
    // refresh, whether or not offline_access was asked for; a new one on every use; none tied to
    // the browser session.
    issueRefreshToken: (_ctx, client, source) =>
      client.grantTypeAllowed('refresh_token') && ['AuthorizationCode', 'DeviceCode'].includes(source.kind),
    rotateRefreshToken: true,
    expiresWithSession: () => false,
    ttl: {
      AccessToken: accessTokenTtl,
      ClientCredentials: accessTokenTtl,
      AuthorizationCode: 60,
      DeviceCode: deviceCodeTtl,
      IdToken: 3600,
      RefreshToken: 14 * 24 * 3600,
      Interaction: 600,
      Session: 24 * 3600,
      Grant: 14 * 24 * 3600,
    },
    features: {
      devInteractions: { enabled: true },
      deviceFlow: { enabled: true },
      introspection: { enabled: true, allowedPolicy: async () => true },
      revocation: { enabled: true },
      clientCredentials: { enabled: true },
      registration: { enabled: true, initialAccessToken: false },
      // Requests never name a resource. A request for `smtp.send` defaults to the SMTP resource,
      // and the grant's resource is used at the token endpoint (even next to `openid`), so the
      // access token is an opaque token for that resource with scope `smtp.send`, introspectable,
      // like Microsoft's token for outlook.office.com. Without `smtp.send` the token is the plain
      // userinfo token.
      resourceIndicators: {
        enabled: true,
        defaultResource: async (ctx, _client, oneOf) => {
          if (oneOf) return oneOf;
          const requested = String(ctx.oidc.params.scope ?? '').split(' ');
          return requested.includes(SMTP_SCOPE) ? smtpResource : defaultScopeResource(ctx);
        },
        useGrantedResource: async () => true,
        getResourceServerInfo: async (ctx, resource, client) => {
          if (resource !== smtpResource && resource === defaultScopeResource(ctx)) {
            return {
              scope: `${resource}${DEFAULT_SCOPE_SUFFIX}`,
              audience: resource,
              accessTokenFormat: 'jwt',
              accessTokenTTL: client?.access_token_ttl ?? DEFAULT_ACCESS_TOKEN_TTL,
            };
          }
          if (resource !== smtpResource) throw new errors.InvalidTarget();
          return {
            scope: SMTP_SCOPE,
            accessTokenFormat: 'opaque',
            accessTokenTTL: client?.access_token_ttl ?? DEFAULT_ACCESS_TOKEN_TTL,
          };
        },
      },
    },
  };
}

// OpenID Connect ignores offline_access unless `prompt` includes `consent` (Core 1.0 section 11),
// and oidc-provider then leaves it out of the grant, so a client that repeats its scopes at the
// refresh_token grant (Authlib does) is refused with invalid_scope. Microsoft grants offline access
// without that prompt; so does this server, by asking for consent when no prompt was given.
async function grantOfflineAccessWithoutPrompt(ctx, next) {
  const { scope, prompt } = ctx.query;
  if (ctx.method === 'GET' && ctx.path === '/auth' && prompt === undefined
      && typeof scope === 'string' && scope.split(' ').includes('offline_access')) {
    ctx.query = { ...ctx.query, prompt: 'consent' };
  }
  await next();
}

// RFC 8628: the device authorization response names the client's polling interval, and a poll
// sooner than the client's `device_min_poll_gap` after its previous one, that would otherwise be
// told authorization_pending, is told slow_down instead (section 3.5).
const lastPoll = new Map();

async function devicePolling(ctx, next) {
  await next();
  const client = ctx.oidc?.client;
  if (ctx.method !== 'POST' || !client || !ctx.body || typeof ctx.body !== 'object') return;
  if (ctx.path === '/device/auth' && ctx.status === 200 && client.device_poll_interval !== undefined) {
    ctx.body = { ...ctx.body, interval: client.device_poll_interval };
  }
  const deviceCode = ctx.oidc.params?.device_code;
  if (ctx.path !== '/token' || ctx.oidc.params?.grant_type !== DEVICE_GRANT || !deviceCode) return;
  const now = Date.now();
  const previous = lastPoll.get(deviceCode);
  lastPoll.set(deviceCode, now);
  const gap = client.device_min_poll_gap;
  if (ctx.body.error === 'authorization_pending' && gap !== undefined && previous !== undefined
      && now - previous < gap * 1000) {
    ctx.body = { error: 'slow_down', error_description: 'you are polling too quickly and should back off at a reasonable rate' };
  }
}

const server = createServer();
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;
  // The default renderError stays: an unregistered redirect_uri gets its HTTP 400 error page.
  const provider = new Provider(issuer, configuration(issuer));
  provider.use(grantOfflineAccessWithoutPrompt);
  provider.use(devicePolling);
  provider.on('server_error', (_ctx, error) => console.error('server_error', error));
  server.on('request', provider.callback());
  process.stdout.write(`${JSON.stringify({ issuer, port })}\n`);
});

function stop() {
  server.close(() => process.exit(0));
  server.closeAllConnections();
}

process.on('SIGTERM', stop);
process.on('SIGINT', stop);
