// The near-no-op model every orchestration figure builds: one folder whose main/model.py defines a
// RefitModel with a trivial build that logs one metric; no dependency file, no tests. Its build writes
// when its process started, so trigger latency can be measured to the build itself.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { AutomationModel } from '../../spec/schema/automation.js';
import { validateAutomation } from '../../spec/validate.js';

export const TINY_MODEL_FOLDER = 'models/tiny';
export const TINY_METRIC = 'score';

// The process start comes from /proc (10 ms resolution): the age of this process, taken from now.
const MODEL_PY = `"""A model whose build does nothing but log one metric (Refit's benchmarks build it)."""
import json
import os
import time

from refit_sdk import RefitModel, log_metric


def _process_started_at():
    ticks = os.sysconf("SC_CLK_TCK")
    with open("/proc/self/stat") as stat:
        started_ticks = int(stat.read().rsplit(")", 1)[1].split()[19])
    with open("/proc/uptime") as uptime:
        up = float(uptime.read().split()[0])
    return time.time() - (up - started_ticks / ticks)


_IMPORTED_AT = time.time()


class TinyModel(RefitModel):
    def build(self):
        # BENCH_TRAIN_SECONDS: that much real work (the CPU kept busy), as a model's training would.
        busy_until = time.time() + float(os.environ.get("BENCH_TRAIN_SECONDS") or 0)
        while time.time() < busy_until:
            sum(range(1000))
        # Beside the metrics file: the build's own output folder, which a confined build may write.
        if os.environ.get("BENCH_STAMP") == "1":
            stamp = {"process_started_at": _process_started_at(), "imported_at": _IMPORTED_AT, "build_at": time.time()}
            with open(os.path.join(os.path.dirname(os.environ["REFIT_METRICS_FILE"]), "bench-stamp.json"), "w") as out:
                json.dump(stamp, out)
        log_metric("${TINY_METRIC}", 1.0)

    def predict(self, rows):
        return [0 for _ in rows]
`;

/** Writes the model folder under `root` (root/models/tiny/main/model.py) and returns root. */
export function writeTinyModel(root: string): string {
  const main = path.join(root, TINY_MODEL_FOLDER, 'main');
  mkdirSync(main, { recursive: true });
  writeFileSync(path.join(main, 'model.py'), MODEL_PY);
  return root;
}

export interface BuildStamp {
  /** Epoch milliseconds. */
  processStartedAt: number;
  importedAt: number;
  buildAt: number;
}

/** The stamp a build wrote; `buildsDir` is the Refit home's builds folder (each build's output is in <build id>/out). */
export function readStamp(buildsDir: string, buildId: string): BuildStamp | undefined {
  const file = path.join(buildsDir, buildId, 'out', 'bench-stamp.json');
  if (!existsSync(file)) return undefined;
  const raw = JSON.parse(readFileSync(file, 'utf8')) as { process_started_at: number; imported_at: number; build_at: number };
  return { processStartedAt: raw.process_started_at * 1000, importedAt: raw.imported_at * 1000, buildAt: raw.build_at * 1000 };
}

/** An automation of the tiny model, validated like any definition; `change` adjusts the raw input first. */
export function tinyAutomation(options: { name: string; repositoryUrl: string; change?: (input: Record<string, unknown>) => void }): AutomationModel {
  const input: Record<string, unknown> = {
    name: options.name,
    model_id: 'bench-tiny',
    trigger: { type: 'NoneTrigger' },
    action: {
      build_spec: {
        git_uri: `${options.repositoryUrl}#${TINY_MODEL_FOLDER}`,
        git_access_token_secret: 'git_token',
        env_vars: ['BENCH_STAMP=1'],
      },
      deployment_condition: { type: 'BuildMetric', metric_name: TINY_METRIC, direction: 'ABOVE', threshold: '0.5' },
      deployment_spec: { number_of_pods: 1 },
    },
  };
  options.change?.(input);
  const validated = validateAutomation(input);
  if (!validated.ok) throw new Error(`the bench automation is invalid: ${JSON.stringify(validated.errors)}`);
  return validated.automation;
}
