// What child processes (git, pip, the model's build and tests) may inherit from the worker: the search
// path, home, locale, temp folder, proxies, TLS trust and pip's own settings. Not the worker's other
// variables: they may hold credentials (TEMPORAL_API_KEY, cloud keys) that model code must never see,
// or name programs (editors, pagers, askpass) that git would run.
const INHERITED =
  /^(PATH|HOME|USER|LOGNAME|SHELL|LANG|LC_\w+|TZ|TMPDIR|(HTTPS?|NO|ALL)_PROXY|(https?|no|all)_proxy|SSL_CERT_(FILE|DIR)|REQUESTS_CA_BUNDLE|GIT_SSL_CAINFO|SSH_AUTH_SOCK|PIP_\w+|XDG_CACHE_HOME)$/;

export function baseEnvironment(source: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(source)) if (value !== undefined && INHERITED.test(key)) env[key] = value;
  return env;
}
