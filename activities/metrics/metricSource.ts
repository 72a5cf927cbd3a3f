import { existsSync } from 'node:fs';
import { readOwnFile } from '../build/confinedPath.js';
import { ErrorTypes, RefitError } from '../../shared/errors.js';
import { metricValue, setMetric } from '../../shared/metrics.js';

/** Where a build's logged metrics are read from. */
export interface MetricSource {
  readonly description: string;
  /** The call that logs a metric to this source, for the message when one is missing. */
  howToLog(name: string): string;
  /**
   * Readies the source for a build about to run (e.g. creates its MLflow run) and returns the variables
   * the build's process needs to log there. Sources that need nothing (the metrics file) leave it out.
   */
  prepareBuild?(build: { buildId: string; modelId: string }): Promise<Record<string, string>>;
  /**
   * True when everything a build logged is there once its process has ended (a file it wrote): a missing metric
   * will not come later, so it is reported at once instead of waited for.
   */
  readonly completeWhenBuilt?: boolean;
  /** The latest value of each metric the build has logged so far. */
  read(build: { buildId: string; metricsFile: string }): Promise<Record<string, number>>;
}

/** Metrics the model code logged with refit_sdk.log_metric, one JSON object per line. */
export class LocalMetricSource implements MetricSource {
  readonly description = "the build's metrics file (refit_sdk.log_metric)";
  readonly completeWhenBuilt = true;

  howToLog(name: string): string {
    return `refit_sdk.log_metric("${name}", value) during build()`;
  }

  async read(build: { metricsFile: string }): Promise<Record<string, number>> {
    if (!existsSync(build.metricsFile)) return {};
    const metrics: Record<string, number> = {};
    // The build wrote this file: it is read as a file of its own, never through a link it made.
    for (const line of readOwnFile(build.metricsFile, 16 * 1024 * 1024, "the build's metrics file").split('\n')) {
      if (!line.trim()) continue;
      try {
        const record = JSON.parse(line) as { name?: unknown; value?: unknown };
        if (typeof record.name === 'string' && typeof record.value === 'number' && Number.isFinite(record.value)) setMetric(metrics, record.name, record.value);
      } catch {
        // A line cut short by a crash mid-write: the lines before it still count.
      }
    }
    return metrics;
  }
}

/**
 * Polls the metric source until the build has logged `name`, or fails at the deadline naming what the
 * build did log, so the user knows whether the name is wrong or the logging is missing. A source whose
 * metrics are complete when the build ends is read once.
 */
/**
 * The metrics a build has logged by the time it ends, read once, when they already answer what the run
 * asks of them (the named metric, or whatever there is when none is named); undefined otherwise, or when
 * the read fails: the run's own metrics step then reads them, waiting and retrying as it does.
 */
export async function metricsWhenBuilt(
  source: MetricSource,
  build: { buildId: string; metricsFile: string },
  name: string | undefined,
): Promise<Record<string, number> | undefined> {
  try {
    const metrics = await source.read(build);
    return name === undefined || metricValue(metrics, name) !== undefined ? metrics : undefined;
  } catch {
    return undefined;
  }
}

export async function waitForMetric(options: {
  source: MetricSource;
  build: { buildId: string; metricsFile: string };
  name: string;
  timeoutMs: number;
  pollMs?: number;
  onPoll?: (metrics: Record<string, number>) => void;
}): Promise<Record<string, number>> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    const metrics = await options.source.read(options.build);
    options.onPoll?.(metrics);
    if (metricValue(metrics, options.name) !== undefined) return metrics;
    if (options.source.completeWhenBuilt || Date.now() >= deadline) {
      const logged = Object.keys(metrics);
      const waited = options.source.completeWhenBuilt ? '' : ` in ${Math.round(options.timeoutMs / 1000)} s`;
      throw new RefitError(
        ErrorTypes.MetricNotFound,
        `build ${options.build.buildId} logged no metric "${options.name}" (the deployment condition's metric_name)${waited}; ` +
          (logged.length ? `it logged: ${logged.join(', ')}` : 'it logged no metrics at all') +
          `. Log it with ${options.source.howToLog(options.name)}, or fix metric_name.`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, options.pollMs ?? 1000));
  }
}
