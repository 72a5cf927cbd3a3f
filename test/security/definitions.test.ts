// Automation definitions are written by people the worker does not trust: nothing in one may steer Refit's
// own processes, reach files or hosts the worker's operator did not allow, or exhaust the machine.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { evaluateCondition } from '../../activities/condition/evaluateCondition.js';
import { allowedGitLocation, DEFAULT_GIT_POLICY } from '../../activities/git/gitAccess.js';
import { findDependencyFile, readModelManifest } from '../../activities/build/modelManifest.js';
import { LocalMetricSource } from '../../activities/metrics/metricSource.js';
import { ErrorTypes, RefitError } from '../../shared/errors.js';
import { loadDefinitions } from '../../spec/loader.js';
import { formatPath, validateAutomation } from '../../spec/validate.js';
import { validInput, withChange } from '../spec/validTemplate.js';

const root = mkdtempSync(path.join(os.tmpdir(), 'refit-hostile-definitions-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function problems(dotted: string, value: unknown): string[] {
  const result = validateAutomation(withChange(validInput(), dotted, value));
  return result.ok ? [] : result.errors.map((error) => `${formatPath(error.path)}: ${error.message}`);
}

const B = 'action.build_spec';
const D = 'action.deployment_spec';

describe('variables that would steer Refit or the loader', () => {
  it.each([
    ['REFIT_TETHER_REMOVE_ON_EXIT=/home', /Refit's own setting/],
    ['REFIT_TETHER_UID=0', /Refit's own setting/],
    ['LD_PRELOAD=/tmp/x.so', /dynamic loader/],
    ['PYTHONPATH=/tmp/evil', /interpreter loads/],
    ['PYTHONSTARTUP=/tmp/evil.py', /interpreter loads/],
    ['PATH=/tmp/evil', /which programs run/],
    ['GIT_SSH_COMMAND=sh -c id', /steers git/],
    ['NODE_OPTIONS=--require /tmp/x.js', /interpreter loads/],
  ])('refuses %s in build_spec.env_vars and in deployment_spec.env_vars, naming the entry', (entry, why) => {
    expect(problems(`${B}.env_vars`, [entry])).toEqual([
      expect.stringMatching(new RegExp(`^action\\.build_spec\\.env_vars\\[0\\]: "${entry.split('=')[0]}" cannot be set by a definition: .*${why.source}`)),
    ]);
    expect(problems(`${D}.env_vars`, [entry])).toHaveLength(1);
  });

  it('lets a definition tune the interpreter harmlessly', () => {
    expect(problems(`${B}.env_vars`, ['PYTHONHASHSEED=0', 'PYTHONUNBUFFERED=1', 'MODE=fast'])).toEqual([]);
  });

  it('bounds how many variables and how long each may be', () => {
    expect(
      problems(
        `${B}.env_vars`,
        Array.from({ length: 201 }, (_, i) => `V${i}=x`),
      ),
    ).toEqual([expect.stringMatching(/at most 200 variables/)]);
    expect(problems(`${B}.env_vars`, [`BIG=${'x'.repeat(40_000)}`])).toEqual([expect.stringMatching(/at most 32768 characters/)]);
  });
});

describe('git_uri', () => {
  it.each([
    ['-uupload-pack=touch /tmp/pwned', /starts with "-", which git would read as an option/],
    ['--upload-pack=sh', /starts with "-"/],
    ['ssh://-oProxyCommand=touch%20/tmp/pwned/repo.git', /starts with "-", which ssh would read as an option/],
    ['ssh://-oProxyCommand=x@host/repo.git', /starts with "-"/],
    ['git://example.com/repo.git', /git:\/\/ is neither encrypted nor authenticated/],
    ['ext::sh -c touch% /tmp/pwned', /not supported|not a repository URL/],
    ['file://host/srv/repo.git', /names a host/],
  ])('refuses %s', (uri, message) => {
    expect(problems(`${B}.git_uri`, uri)).toEqual([expect.stringMatching(new RegExp(`^action\\.build_spec\\.git_uri: .*${message.source}`))]);
  });

  it('accepts https, ssh and scp-like forms', () => {
    for (const uri of ['https://github.com/o/r.git#m', 'ssh://git@github.com/o/r.git', 'git@github.com:o/r.git#models/x'])
      expect(problems(`${B}.git_uri`, uri)).toEqual([]);
  });

  it('lets the worker refuse file:// and plain http to another host unless its operator allows them', () => {
    const refusal = (uri: string, policy = DEFAULT_GIT_POLICY) => {
      try {
        allowedGitLocation(uri, policy);
        return undefined;
      } catch (err) {
        expect(err).toBeInstanceOf(RefitError);
        expect((err as RefitError).type).toBe(ErrorTypes.InvalidDefinition);
        return (err as Error).message;
      }
    };
    expect(refusal('file:///srv/git/models.git')).toMatch(/REFIT_GIT_ALLOW_FILE=true/);
    expect(refusal('file:///srv/git/models.git', { allowFile: true, allowHttpHosts: [] })).toBeUndefined();
    expect(refusal('http://git.internal/models.git')).toMatch(/http:\/\/ to git\.internal is neither encrypted.*REFIT_GIT_ALLOW_HTTP_HOSTS/);
    expect(refusal('http://git.internal/models.git', { allowFile: false, allowHttpHosts: ['git.internal'] })).toBeUndefined();
    expect(refusal('http://127.0.0.1:8080/models.git')).toBeUndefined();
  });
});

describe('numbers', () => {
  it.each([
    [`${D}.number_of_pods`, 101, /at most 100 pods/],
    [`${D}.cpu_fraction`, 1000, /at most 256 cores/],
    [`${D}.memory`, '8Ti', /more than the most a build or pod may ask for \(4Ti\)/],
    [`${D}.http_request_timeout_ms`, 10 ** 9, /at most 600000/],
    [`${D}.deployment_process_timeout_limit`, 10 ** 7, /at most 86400/],
    [`${D}.max_batch_size`, 10 ** 7, /at most 100000/],
    [`${D}.auto_scale_config.max_replica_count`, 5000, /at most 1000 replicas/],
    ['trigger.interval', `${'9'.repeat(400)}d`, /longer than the longest interval allowed \(366d\)/],
  ])('bounds %s', (dotted, value, message) => {
    const input = validInput();
    if (dotted === 'trigger.interval') (input.trigger as Record<string, unknown>) = { type: 'ScheduledTrigger', interval: value };
    else withChange(input, dotted, value);
    const result = validateAutomation(input);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.errors.map((error) => error.message)).toContainEqual(expect.stringMatching(message));
  });

  it('refuses a threshold too large to be a number', () => {
    expect(problems('action.deployment_condition.threshold', `1${'0'.repeat(400)}`)).toEqual([expect.stringMatching(/too large to be a threshold/)]);
  });
});

describe('metric names', () => {
  it.each(['constructor', '__proto__', 'toString', 'hasOwnProperty'])('never resolves %s to a member of the prototype', async (name) => {
    const condition = { type: 'BuildMetric' as const, metric_name: name, direction: 'ABOVE' as const, threshold: '0.5' };
    const error = await evaluateCondition({
      condition,
      metrics: { f1_score: 0.9 },
      openAnalytics: async () => {
        throw new Error('unused');
      },
      queryTimeoutMs: 1000,
    }).catch((err: unknown) => err);
    expect((error as RefitError).type).toBe(ErrorTypes.MetricNotFound);
    expect((error as Error).message).toContain(`the build logged no metric "${name}"`);
  });

  it('keeps a metric a build logs under such a name as an ordinary value', async () => {
    const file = path.join(root, 'metrics.jsonl');
    writeFileSync(file, `${JSON.stringify({ name: '__proto__', value: 0.7 })}\n${JSON.stringify({ name: 'constructor', value: 0.8 })}\n`);
    const metrics = await new LocalMetricSource().read({ metricsFile: file });
    expect(Object.entries(metrics)).toEqual([
      ['__proto__', 0.7],
      ['constructor', 0.8],
    ]);
    const outcome = await evaluateCondition({
      condition: { type: 'BuildMetric', metric_name: 'constructor', direction: 'ABOVE', threshold: '0.5' },
      metrics,
      openAnalytics: async () => {
        throw new Error('unused');
      },
      queryTimeoutMs: 1000,
    });
    expect(outcome).toMatchObject({ passed: true, value: 0.8 });
  });
});

describe('SQL fields', () => {
  const sql = (query: string) => problems('action.deployment_condition.threshold', query);
  it('accepts a ";" inside a string literal or a comment', () => {
    expect(sql("SELECT avg(score) FROM logs WHERE note <> 'a;b' -- one; statement\n")).toEqual([]);
    expect(sql('SELECT /* ; */ avg(score) FROM logs;')).toEqual([]);
    expect(sql('SELECT avg(score) FROM logs WHERE tag = $$x;y$$')).toEqual([]);
  });

  it('refuses a second statement hidden after a string that looks escaped', () => {
    expect(sql("SELECT 'a\\'; DROP TABLE logs; --'")).toEqual([expect.stringMatching(/more than one SQL statement/)]);
  });

  it('applies the single-statement rule to canary guards and metric triggers too', () => {
    const guard = validateAutomation(
      withChange(validInput(), 'action.rollout', {
        strategy: 'canary',
        guard: { type: 'LiveMetric', sql_query: 'SELECT 1; SELECT 2', direction: 'BELOW', threshold: 0.1 },
      }),
    );
    expect(guard.ok).toBe(false);
    if (!guard.ok)
      expect(guard.errors.map((error) => `${formatPath(error.path)}: ${error.message}`)).toContainEqual(
        expect.stringMatching(/^action\.rollout\.guard\.sql_query: holds more than one SQL statement/),
      );
    const trigger = validateAutomation(
      withChange(validInput(), 'trigger', {
        type: 'MetricBasedTrigger',
        name: 'drift',
        metric: { sql_query: "SELECT 1; COPY t TO '/tmp/x'" },
        direction: 'BELOW',
        threshold: 0.7,
      }),
    );
    expect(trigger.ok).toBe(false);
  });
});

describe('the model repository', () => {
  function modelFolder(name: string, files: Record<string, string>): string {
    const dir = path.join(root, name);
    mkdirSync(path.join(dir, 'main'), { recursive: true });
    for (const [file, content] of Object.entries(files)) writeFileSync(path.join(dir, file), content);
    return dir;
  }

  it('cannot point refit.yaml dependencies outside the model folder', () => {
    const dir = modelFolder('escape', { 'refit.yaml': 'dependencies: ../../../../../etc/passwd\n' });
    const error = (() => {
      try {
        return findDependencyFile(dir, 'main', undefined, readModelManifest(dir));
      } catch (err) {
        return err;
      }
    })();
    expect((error as RefitError).type).toBe(ErrorTypes.InvalidDefinition);
    expect((error as Error).message).toMatch(/refit\.yaml dependencies "\.\.\/.*" leads outside the model folder/);
    expect((error as Error).message).not.toContain('root:');
  });

  it('cannot reach a file outside through a symbolic link', () => {
    const outside = path.join(root, 'outside-secret');
    writeFileSync(outside, 'top-secret-value\n');
    const dir = modelFolder('linked', {});
    symlinkSync(outside, path.join(dir, 'requirements.txt'));
    expect(() => findDependencyFile(dir, 'main', undefined, readModelManifest(dir))).toThrow(/leads outside the model folder/);
    const manifestLink = modelFolder('linked-manifest', {});
    symlinkSync(outside, path.join(manifestLink, 'refit.yaml'));
    expect(() => readModelManifest(manifestLink)).toThrow(/refit\.yaml in the model folder is a symbolic link/);
  });

  it('cannot set steering variables through refit.yaml secrets', () => {
    const dir = modelFolder('steer', { 'refit.yaml': 'secrets: { LD_PRELOAD: some_secret }\n' });
    expect(() => readModelManifest(dir)).toThrow(/"LD_PRELOAD" cannot be set by a definition/);
  });
});

describe('loading a folder of definitions', () => {
  const folder = path.join(root, 'definitions');
  const marker = path.join(root, 'module-ran');
  mkdirSync(folder);
  writeFileSync(path.join(folder, 'good.yaml'), readFileSync(path.join(process.cwd(), 'examples', 'seed.yaml'), 'utf8'));
  writeFileSync(
    path.join(folder, 'sneaky.ts'),
    `import { writeFileSync } from 'node:fs';\nwriteFileSync(${JSON.stringify(marker)}, JSON.stringify(Object.keys(process.env)));\nexport {};\n`,
  );
  const aliases = [
    'a: &a ["x","x","x","x","x","x","x","x","x"]',
    ...Array.from(
      { length: 8 },
      (_, i) =>
        `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(9)
          .fill(`*${String.fromCharCode(97 + i)}`)
          .join(',')}]`,
    ),
  ];
  writeFileSync(path.join(folder, 'bomb.yaml'), `${aliases.join('\n')}\n`);

  it('runs no module found in a folder, and says so', async () => {
    const result = await loadDefinitions([folder]);
    expect(existsSync(marker)).toBe(false);
    expect(result.warnings).toContainEqual(
      expect.objectContaining({ file: path.join(folder, 'sneaky.ts'), message: expect.stringMatching(/a folder loads YAML files only.*--allow-code/) }),
    );
  });

  it('reports an alias bomb at its file and still validates the other files', async () => {
    const result = await loadDefinitions([folder]);
    expect(result.automations.map((loaded) => loaded.automation.name)).toEqual(['retrain_my_model']);
    expect(result.errors).toContainEqual(
      expect.objectContaining({
        file: path.join(folder, 'bomb.yaml'),
        position: { line: 1, column: 1 },
        message: expect.stringMatching(/expands its aliases/),
      }),
    );
  });

  it("runs a module named on the command line without the caller's credentials", async () => {
    process.env.TEMPORAL_API_KEY = 'key-of-the-person-running-refit';
    try {
      await loadDefinitions([path.join(folder, 'sneaky.ts')]);
    } finally {
      delete process.env.TEMPORAL_API_KEY;
    }
    const seen = JSON.parse(readFileSync(marker, 'utf8')) as string[];
    expect(seen).not.toContain('TEMPORAL_API_KEY');
    expect(seen.filter((key) => !/^(PATH|HOME|USER|LOGNAME|LANG|LC_\w+|TZ|TMPDIR)$/.test(key))).toEqual([]);
  });
});
