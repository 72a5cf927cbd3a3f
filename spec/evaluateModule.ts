// Child-process entry that imports one TypeScript or JavaScript definition file and prints the
// automations it exports. Run through tsx, in its own process so that a definition file cannot
// disturb the caller (and so that it works inside jest's module system as well as in the CLI).
import { pathToFileURL } from 'node:url';
import { isAutomationDefinition } from './builders.js';

// The caller passes the marker that starts the result line, so output of the definition file itself
// (a stray console.log) cannot be mistaken for it.
const [file, marker] = process.argv.slice(2);
if (!file || !marker) {
  console.error('usage: evaluateModule <file> <marker>');
  process.exit(2);
}
const module = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
const found: { exportName: string; definition: unknown }[] = [];
for (const [exportName, value] of Object.entries(module)) {
  if (isAutomationDefinition(value)) found.push({ exportName, definition: value });
  else if (Array.isArray(value)) {
    value.forEach((item, index) => {
      if (isAutomationDefinition(item)) found.push({ exportName: `${exportName}[${index}]`, definition: item });
    });
  }
}
process.stdout.write(`\n${marker}${JSON.stringify(found)}\n`);
