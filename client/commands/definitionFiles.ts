// The definition parser (YAML, the schema, TypeScript definitions) is loaded only by the commands that
// read files: `list`, `describe` or `run <name>` start without it.
export async function definitionFiles() {
  const [{ loadDefinitions }, { printLoadProblems }] = await Promise.all([import('../../spec/loader.js'), import('./validate.js')]);
  return { loadDefinitions, printLoadProblems };
}
