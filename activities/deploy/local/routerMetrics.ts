// What the local router counts per variation, for Prometheus (GET /metrics on the router's port): the model
// server's series names and labels (sdk/python/refit_sdk/serving_metrics.py), so the autoscaling queries and
// dashboards read a local model as they read its pods. Counted where the router answers: each inference request
// by the variation and build it went to, with the status the client got (502 when no pod answered).
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** The model server's buckets, so that local and pod latencies compare bucket for bucket. */
const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export class RouterMetrics {
  readonly registry = new Registry();
  private readonly requests = new Counter({
    name: 'refit_requests_total',
    help: 'Inference requests answered through the router, by variation, build and HTTP status code.',
    labelNames: ['model', 'variation', 'build', 'code'],
    registers: [this.registry],
  });
  private readonly durations = new Histogram({
    name: 'refit_request_duration_seconds',
    help: 'How long inference requests took to answer, through the router.',
    labelNames: ['model', 'variation', 'build'],
    buckets: DURATION_BUCKETS,
    registers: [this.registry],
  });
  private readonly inFlight = new Gauge({
    name: 'refit_requests_in_flight',
    help: 'Inference requests being answered now, through the router.',
    labelNames: ['model', 'variation', 'build'],
    registers: [this.registry],
  });

  constructor(private readonly modelId: string) {}

  /** Call when a request is sent to a pod; the function it returns when its answer has gone to the client. */
  started(variation: string, build: string, clock: () => number = () => performance.now()): (code: number) => void {
    const labels = { model: this.modelId, variation, build };
    const start = clock();
    this.inFlight.inc(labels);
    return (code) => {
      this.inFlight.dec(labels);
      this.requests.inc({ ...labels, code: String(code) });
      this.durations.observe(labels, (clock() - start) / 1000);
    };
  }

  exposition(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

/** Only inference requests count, as on the model server: not health probes, metadata or /metrics. */
export function isInferenceRequest(method: string | undefined, url: string | undefined): boolean {
  return method === 'POST' && /^\/v2\/models\/[^/]+(\/versions\/[^/]+)?\/infer(\?|$)/.test(url ?? '');
}
