// The REST API of an MLflow tracking server (/api/2.0/mlflow/...), as Refit's metric source and model registry use
// it: one address with credentials taken as MLflow's own client takes them, answers checked against a schema, and
// errors that say what to fix. A network failure is a plain Error (retried); refused credentials are a RefitError.
import { z } from 'zod';
import { RefitError, type ErrorType } from '../../shared/errors.js';

export interface MlflowConnectionOptions {
  /** The tracking server's address, as MLFLOW_TRACKING_URI gives it to MLflow's client (http or https). */
  trackingUri: string;
  /** MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD: HTTP basic auth. */
  username?: string;
  password?: string;
  /** MLFLOW_TRACKING_TOKEN: a bearer token, used when no username and password are given (as MLflow's client does). */
  token?: string;
  /** How long one request may take before it counts as a failure to answer. Default 30 s. */
  requestTimeoutMs?: number;
}

const ErrorAnswer = z.object({ error_code: z.string().optional(), message: z.string().optional() });

/** An error answer from the tracking server, kept apart so callers can act on MLflow's error code. */
export class MlflowApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly errorCode: string | undefined,
  ) {
    super(message);
    this.name = 'MlflowApiError';
  }
}

export class MlflowApi {
  /** The server's address without user:password or query, so messages may show it. */
  readonly baseUrl: string;
  readonly #authorization: string | undefined;
  /** What MLflow's client in a build needs to reach the server as Refit does. */
  readonly credentialEnv: Record<string, string>;
  readonly #timeoutMs: number;

  /**
   * `rejected`: the error type for refused credentials or permissions; `forbiddenHint` what to grant on a 403.
   */
  constructor(
    options: MlflowConnectionOptions,
    private readonly rejected: ErrorType,
    private readonly forbiddenHint: string,
  ) {
    let url: URL;
    try {
      url = new URL(options.trackingUri);
    } catch {
      throw new Error(
        `MLflow trackingUri "${withoutUserInfo(options.trackingUri)}" is not a URL: give the tracking server's address, e.g. http://mlflow.internal:5000`,
      );
    }
    // Credentials in the address work like MLFLOW_TRACKING_USERNAME/PASSWORD; explicit options win.
    const username = options.username ?? (url.username ? decoded(url.username) : undefined);
    const password = options.password ?? (url.password ? decoded(url.password) : undefined);
    url.username = '';
    url.password = '';
    // Neither shown nor sent: MLflow's API takes no query string, and one could hold a key.
    url.search = '';
    url.hash = '';
    this.baseUrl = url.href.replace(/\/+$/, '');
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new Error(`MLflow trackingUri "${this.baseUrl}" is not an http(s) address: Refit talks to a tracking server, e.g. http://mlflow.internal:5000`);
    }
    if (Boolean(username) !== Boolean(password)) {
      throw new Error(
        `MLflow ${username ? 'username is set without a password' : 'password is set without a username'}: set both MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD, or use MLFLOW_TRACKING_TOKEN`,
      );
    }
    this.#timeoutMs = options.requestTimeoutMs ?? 30_000;
    if (username && password) {
      this.#authorization = `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
      this.credentialEnv = { MLFLOW_TRACKING_USERNAME: username, MLFLOW_TRACKING_PASSWORD: password };
    } else if (options.token) {
      this.#authorization = `Bearer ${options.token}`;
      this.credentialEnv = { MLFLOW_TRACKING_TOKEN: options.token };
    } else {
      this.credentialEnv = {};
    }
  }

  async call<T>(method: 'GET' | 'POST' | 'DELETE', endpoint: string, payload: unknown, schema: z.ZodType<T>): Promise<T> {
    const what = `${method} /api/2.0/mlflow/${endpoint.split('?')[0]}`;
    let response: Response;
    let text: string;
    try {
      response = await fetch(`${this.baseUrl}/api/2.0/mlflow/${endpoint}`, {
        method,
        headers: {
          accept: 'application/json',
          ...(payload === undefined ? {} : { 'content-type': 'application/json' }),
          ...(this.#authorization ? { authorization: this.#authorization } : {}),
        },
        body: payload === undefined ? undefined : JSON.stringify(payload),
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
      text = await response.text();
    } catch (err) {
      // Transient as far as Refit can tell: a plain Error, so the activity is retried.
      throw new Error(
        `cannot reach the MLflow tracking server at ${this.baseUrl} (${what}: ${networkReason(err, this.#timeoutMs)}): check that it is running and that the tracking URI is right`,
        { cause: err },
      );
    }
    const json = parseJson(text);
    if (!response.ok) {
      const error = this.#apiError(response.status, what, json, text);
      // Refused credentials or permissions do not heal by retrying: fail the run at once.
      if (response.status === 401 || response.status === 403) throw new RefitError(this.rejected, error.message);
      throw error;
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const detail =
        json === undefined
          ? `not JSON: ${excerpt(text)}`
          : `JSON without the expected ${issue?.path.join('.') || 'shape'} (${issue?.message}): ${excerpt(text)}`;
      throw new Error(
        `the MLflow tracking server at ${this.baseUrl} gave a malformed answer to ${what}, ${detail}; is the tracking URI the server's base address (not a UI or proxy page)?`,
      );
    }
    return parsed.data;
  }

  #apiError(status: number, what: string, json: unknown, text: string): MlflowApiError {
    const answer = ErrorAnswer.safeParse(json);
    const errorCode = answer.success ? answer.data.error_code : undefined;
    // A page (a proxy's, or a web server's 404) says nothing useful in a line: name it instead of quoting it.
    const said = answer.success && answer.data.message ? excerpt(answer.data.message) : /^\s*</.test(text) ? "an HTML page, not MLflow's JSON" : excerpt(text);
    const hint =
      status === 401
        ? this.#authorization
          ? 'it rejected the credentials Refit was given: check MLFLOW_TRACKING_USERNAME/MLFLOW_TRACKING_PASSWORD or MLFLOW_TRACKING_TOKEN'
          : 'it needs credentials: give Refit MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD, or MLFLOW_TRACKING_TOKEN'
        : status === 403
          ? `the account Refit uses may not do this: ${this.forbiddenHint}`
          : status === 404 && !errorCode
            ? "no MLflow REST API there: is the tracking URI the server's base address?"
            : undefined;
    return new MlflowApiError(
      `the MLflow tracking server at ${this.baseUrl} answered ${what} with HTTP ${status}${errorCode ? ` ${errorCode}` : ''} (${said})${hint ? `; ${hint}` : ''}`,
      status,
      errorCode,
    );
  }
}

/** The address without any user:password in it, for messages about an address that does not parse. */
function withoutUserInfo(uri: string): string {
  return uri.replace(/^([a-z][\w+.-]*:\/\/)[^/?#]*@/i, '$1');
}

/** Userinfo as the URL holds it, percent-encoded; a stray "%" stays as it is rather than failing. */
function decoded(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function excerpt(text: string, length = 200): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > length ? `${flat.slice(0, length)}…` : flat || '(empty)';
}

/** fetch() says only "fetch failed"; the reason (ECONNREFUSED, ENOTFOUND, a timeout) is in its cause. */
function networkReason(err: unknown, timeoutMs: number): string {
  if (err instanceof DOMException && err.name === 'TimeoutError') return `no answer within ${Math.round(timeoutMs / 1000)} s`;
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (err as Error).message;
}
