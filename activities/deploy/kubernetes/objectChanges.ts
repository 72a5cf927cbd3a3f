// What applying an object would change, in words: the live object is compared with what the API server answers
// to a dry-run apply of it (defaults filled in, as it would store it). Pure functions, so tests need no cluster.
import { isDeepStrictEqual } from 'node:util';
import type { KubernetesObject, V1Deployment } from '@kubernetes/client-node';
import { ANNOTATIONS, LABELS } from './names.js';

export interface FieldChange {
  /** "spec.template.spec.containers[0].image" */
  path: string;
  before: unknown;
  after: unknown;
}

/** The fields that differ: labels, annotations, and everything else outside metadata and status. */
export function fieldChanges(live: KubernetesObject, planned: KubernetesObject): FieldChange[] {
  const changes: FieldChange[] = [];
  collect(comparable(live), comparable(planned), '', changes);
  return changes;
}

function comparable(object: KubernetesObject): Record<string, unknown> {
  const { metadata, status: _status, apiVersion: _apiVersion, kind: _kind, ...rest } = object as KubernetesObject & Record<string, unknown>;
  return { metadata: { labels: metadata?.labels ?? {}, annotations: metadata?.annotations ?? {} }, ...rest };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function collect(before: unknown, after: unknown, path: string, changes: FieldChange[]): void {
  if (isDeepStrictEqual(before, after)) return;
  if (isRecord(before) && isRecord(after)) {
    for (const key of new Set([...Object.keys(before), ...Object.keys(after)])) collect(before[key], after[key], path ? `${path}.${key}` : key, changes);
  } else if (Array.isArray(before) && Array.isArray(after) && before.length === after.length) {
    before.forEach((item, index) => collect(item, after[index], `${path}[${index}]`, changes));
  } else {
    changes.push({ path, before, after });
  }
}

/** Fields that only record which build runs (its image says so) and with what metrics and specification. */
const RECORD_KEYS = [ANNOTATIONS.automation, ANNOTATIONS.buildId, ANNOTATIONS.metrics, ANNOTATIONS.spec, LABELS.build, LABELS.version];
const CONTAINER = /^spec\.template\.spec\.containers\[\d+\]\./;

function shown(value: unknown): string {
  if (value === undefined) return 'unset';
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

type Phrase = { rank: number; text: string };

/** One phrase per change a reader cares about ("image a → b", "replicas 2 → 1"), most telling first; the build record's fields only when nothing else changed. */
export function describeChanges(changes: FieldChange[], planned: KubernetesObject): string[] {
  const phrases: Phrase[] = [];
  let recordChanged = false;
  for (const change of changes) {
    const phrase = phraseFor(change, planned);
    if (phrase === 'record') recordChanged = true;
    else if (!phrases.some((known) => known.text === phrase.text)) phrases.push(phrase);
  }
  if (!phrases.length && recordChanged) return ['the recorded build, metrics or deployment_spec'];
  return phrases.sort((a, b) => a.rank - b.rank).map((phrase) => phrase.text);
}

function phraseFor({ path, before, after }: FieldChange, planned: KubernetesObject): Phrase | 'record' {
  const change = `${shown(before)} → ${shown(after)}`;
  if (/(^|\.)metadata\.(labels|annotations)\./.test(path) && RECORD_KEYS.some((key) => path.endsWith(`.${key}`))) return 'record';
  const argument = /^spec\.template\.spec\.containers\[(\d+)\]\.args\[(\d+)\]$/.exec(path);
  if (argument) {
    const args = (planned as V1Deployment).spec?.template.spec?.containers[Number(argument[1])]?.args ?? [];
    const flag = args[Number(argument[2]) - 1]?.startsWith('--') ? args[Number(argument[2]) - 1] : undefined;
    // --build-id only repeats the build the image names.
    if (flag === '--build-id') return 'record';
    return { rank: 3, text: `server argument ${flag ? `${flag} ` : ''}${change}` };
  }
  const resource = /\.resources\.(requests|limits)\.(cpu|memory)$/.exec(path);
  if (CONTAINER.test(path) && path.endsWith('.image')) return { rank: 0, text: `image ${change}` };
  if (path === 'spec.replicas') return { rank: 1, text: `replicas ${change}` };
  if (resource) return { rank: 2, text: `${resource[2]} ${change}` };
  if (CONTAINER.test(path) && /\.env(\[|$)/.test(path)) return { rank: 4, text: 'env_vars' };
  return { rank: 5, text: `${path} ${change}` };
}
