// A build's metrics by name. Names come from model code and definitions, so a name such as "constructor"
// or "__proto__" must be read and written as an ordinary key, never as a member of Object's prototype.

export type Metrics = Record<string, number>;

/** The value logged under `name`, or undefined: only the record's own keys count. */
export function metricValue(metrics: Metrics | undefined, name: string): number | undefined {
  if (!metrics || !Object.hasOwn(metrics, name)) return undefined;
  const value = metrics[name];
  return typeof value === 'number' ? value : undefined;
}

/** Records a value under `name` as an own key, whatever the name ("__proto__" included). */
export function setMetric(metrics: Metrics, name: string, value: number): void {
  Object.defineProperty(metrics, name, { value, enumerable: true, writable: true, configurable: true });
}
