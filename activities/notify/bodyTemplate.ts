// A custom webhook's body template, with {{field}} placeholders filled from the run. A value such as the
// reason comes partly from build output, so in a JSON body it is always written as JSON: inside a string it
// is escaped, outside one it becomes a whole JSON value. No value can end a string or add a field.

/** What a notification tells: filled into Slack's text or a custom webhook's body template. */
export interface RunEvent {
  automation: string;
  model_id: string;
  outcome: 'deployed' | 'failed';
  reason: string;
  build_id: string;
  git_commit: string;
  deployed: boolean;
  run_url: string;
  workflow_id: string;
}

const PLACEHOLDER = /\{\{\s*(\w+)\s*\}\}/y;

/** {{field}} placeholders (validated when the automation was loaded) get the event's values. */
export function fillTemplate(template: string, event: RunEvent, options: { json: boolean } = { json: true }): string {
  const valueOf = (field: string): unknown => (Object.hasOwn(event, field) ? event[field as keyof RunEvent] : '');
  let out = '';
  let inString = false;
  let index = 0;
  while (index < template.length) {
    PLACEHOLDER.lastIndex = index;
    const placeholder = PLACEHOLDER.exec(template);
    if (placeholder) {
      const value = valueOf(placeholder[1]!);
      if (!options.json) out += String(value);
      else if (inString) out += JSON.stringify(String(value)).slice(1, -1);
      else out += JSON.stringify(value);
      index += placeholder[0].length;
      continue;
    }
    const char = template[index]!;
    if (options.json) {
      if (inString && char === '\\') {
        out += template.slice(index, index + 2);
        index += 2;
        continue;
      }
      if (char === '"') inString = !inString;
    }
    out += char;
    index += 1;
  }
  return out;
}
