import { isMap, isPair, isScalar, isSeq, LineCounter, parseAllDocuments, stringify, type Node } from 'yaml';
import type { PathSegment } from './problems.js';

export interface Position {
  line: number;
  column: number;
}

export interface YamlDocument {
  data: unknown;
  /** Where the document starts. */
  position: Position;
  /** Where a field is written: the key of a mapping entry, the item of a list; the nearest parent if absent. */
  locate(path: readonly PathSegment[]): Position;
}

export type YamlParseResult = { documents: YamlDocument[] } | { syntaxErrors: { message: string; position: Position }[] };

/** Parses a YAML file of one or more automations ("---" between them), keeping where each field is written. */
export function parseYamlDefinitions(text: string): YamlParseResult {
  const lineCounter = new LineCounter();
  const parsed = parseAllDocuments(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const documents = Array.isArray(parsed) ? parsed : [];
  const at = (offset: number): Position => {
    const { line, col } = lineCounter.linePos(offset);
    return { line, column: col };
  };
  const syntaxErrors = documents.flatMap((document) =>
    document.errors.map((error) => ({ message: error.message.split('\n')[0]!, position: at(error.pos[0]) })),
  );
  if (syntaxErrors.length) return { syntaxErrors };
  const converted: YamlDocument[] = [];
  const conversionErrors: { message: string; position: Position }[] = [];
  for (const document of documents.filter((each) => each.contents !== null)) {
    const position = at(document.contents!.range?.[0] ?? 0);
    try {
      // The alias limit stops a "billion laughs" file from expanding into gigabytes.
      converted.push({ data: document.toJS({ maxAliasCount: 100 }), position, locate: (path) => at(offsetOf(document.contents as Node, path)) });
    } catch (err) {
      const message = /alias count/i.test((err as Error).message)
        ? 'the document expands its aliases (*name) too many times; write the values out or use fewer aliases'
        : (err as Error).message.split('\n')[0]!;
      conversionErrors.push({ message, position });
    }
  }
  return conversionErrors.length ? { syntaxErrors: conversionErrors } : { documents: converted };
}

function offsetOf(root: Node, path: readonly PathSegment[]): number {
  let node: unknown = root;
  let offset = root.range?.[0] ?? 0;
  for (const segment of path) {
    if (isMap(node)) {
      const pair = node.items.find((item) => isPair(item) && isScalar(item.key) && String(item.key.value) === String(segment));
      if (!pair) break;
      offset = (pair.key as Node).range?.[0] ?? offset;
      node = pair.value;
    } else if (isSeq(node) && typeof segment === 'number' && node.items[segment]) {
      node = node.items[segment];
      offset = (node as Node).range?.[0] ?? offset;
    } else {
      break;
    }
  }
  return offset;
}

/** The canonical YAML of a validated model: keys in schema order, strings that look like numbers quoted. */
export function toYaml(model: unknown): string {
  return stringify(model, { lineWidth: 0, minContentWidth: 0 });
}
