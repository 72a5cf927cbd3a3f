import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import type { AutomationModel } from './schema/automation.js';
import { validateAutomation, type PathSegment, type Problem } from './validate.js';
import { parseYamlDefinitions, type Position } from './yaml.js';

const run = promisify(execFile);

export interface LocatedProblem extends Problem {
  file: string;
  /** Which definition in the file: "#2" (second YAML document) or an export name. */
  definition?: string;
  position?: Position;
  /** The source line at `position` and a caret under its column, where that helps (YAML syntax errors). */
  excerpt?: string;
}

export interface LoadedAutomation {
  file: string;
  definition: string;
  position?: Position;
  automation: AutomationModel;
}

export interface LoadResult {
  automations: LoadedAutomation[];
  errors: LocatedProblem[];
  warnings: LocatedProblem[];
  /** Every file read, whether or not it held valid automations. */
  files: string[];
}

export interface LoadOptions {
  /**
   * Also run the TypeScript/JavaScript files found in folders. Off by default: a module is code, and a
   * folder may hold files nobody meant to run; a module named on the command line always runs.
   */
  allowCode?: boolean;
}

/** The largest definition file read: definitions are configuration, not data. */
export const MAX_DEFINITION_FILE_BYTES = 1024 * 1024;

const YAML_EXTENSIONS = ['.yaml', '.yml'];
const MODULE_EXTENSIONS = ['.ts', '.mts', '.cts', '.js', '.mjs'];
const SKIPPED_FOLDERS = new Set(['node_modules', 'dist', '__pycache__', '.venv', 'venv']);

interface RawDefinition {
  definition: string;
  data: unknown;
  position?: Position;
  locate?: (path: readonly PathSegment[]) => Position;
}

/**
 * Loads automation definitions from files and folders (recursively): YAML files with one automation
 * per document, and TypeScript/JavaScript modules exporting the result of Automation({...}) (named on the
 * command line, or found in folders with allowCode). Every problem in every file is returned, each at its
 * file; names must be unique across everything loaded.
 */
export async function loadDefinitions(targets: string[], options: LoadOptions = {}): Promise<LoadResult> {
  const result: LoadResult = { automations: [], errors: [], warnings: [], files: [] };
  const files: { file: string; explicit: boolean }[] = [];
  for (const target of targets) {
    let info;
    try {
      info = await stat(target);
    } catch {
      result.errors.push({ file: target, path: [], message: 'no such file or folder', severity: 'error' });
      continue;
    }
    if (info.isDirectory()) files.push(...(await definitionFilesIn(target)).map((file) => ({ file, explicit: false })));
    else files.push({ file: target, explicit: true });
  }
  for (const { file, explicit } of files) {
    const extension = path.extname(file);
    if (!explicit && MODULE_EXTENSIONS.includes(extension) && !options.allowCode) {
      result.warnings.push({
        file,
        path: [],
        message:
          'not loaded: a folder loads YAML files only, because a module is code that would run; name this file on the command line, or pass --allow-code',
        severity: 'warning',
      });
      continue;
    }
    result.files.push(file);
    let raw: RawDefinition[];
    try {
      raw = YAML_EXTENSIONS.includes(extension)
        ? await readYamlFile(file, result)
        : MODULE_EXTENSIONS.includes(extension)
          ? await readModuleFile(file, explicit, result)
          : unsupported(file, result);
    } catch (err) {
      // One file that cannot be read must not hide what the others say.
      result.errors.push({ file, path: [], message: `could not be read: ${(err as Error).message}`, severity: 'error' });
      continue;
    }
    for (const definition of raw) {
      const validated = validateAutomation(definition.data);
      const locate = (problem: Problem): LocatedProblem => ({
        ...problem,
        file,
        definition: definition.definition,
        position: definition.locate?.(problem.path) ?? definition.position,
      });
      result.warnings.push(...validated.warnings.map(locate));
      if (!validated.ok) result.errors.push(...validated.errors.map(locate));
      else result.automations.push({ file, definition: definition.definition, position: definition.position, automation: validated.automation });
    }
  }
  rejectDuplicateNames(result);
  return result;
}

async function definitionFilesIn(folder: string): Promise<string[]> {
  const found: string[] = [];
  for (const entry of (await readdir(folder, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
    const full = path.join(folder, entry.name);
    if (entry.isDirectory()) {
      if (!entry.name.startsWith('.') && !SKIPPED_FOLDERS.has(entry.name)) found.push(...(await definitionFilesIn(full)));
    } else if (isDefinitionFileName(entry.name)) {
      found.push(full);
    }
  }
  return found;
}

function isDefinitionFileName(name: string): boolean {
  const extension = path.extname(name);
  if (YAML_EXTENSIONS.includes(extension)) return true;
  return MODULE_EXTENSIONS.includes(extension) && !/\.d\.[mc]?ts$|\.(test|spec)\.[mc]?[jt]s$/.test(name);
}

function unsupported(file: string, result: LoadResult): RawDefinition[] {
  result.errors.push({
    file,
    path: [],
    message: `cannot read definitions from "${path.extname(file) || 'a file without extension'}": use .yaml, .yml, .ts or .js`,
    severity: 'error',
  });
  return [];
}

async function readYamlFile(file: string, result: LoadResult): Promise<RawDefinition[]> {
  const size = (await stat(file)).size;
  if (size > MAX_DEFINITION_FILE_BYTES) {
    result.errors.push({ file, path: [], message: `is ${size} bytes; a definition file may be at most ${MAX_DEFINITION_FILE_BYTES} bytes`, severity: 'error' });
    return [];
  }
  const text = await readFile(file, 'utf8');
  const parsed = parseYamlDefinitions(text);
  if ('syntaxErrors' in parsed) {
    // One mistake (a bad indent, an unclosed bracket) makes the parser report several errors after it: the first
    // is the cause, the rest usually go with it.
    const [{ message, position }, ...rest] = parsed.syntaxErrors as [{ message: string; position: Position }, ...{ message: string; position: Position }[]];
    const more = rest.length ? ` (and ${rest.length} more YAML error${rest.length === 1 ? '' : 's'} after it, which fixing this one often clears)` : '';
    result.errors.push({ file, path: [], message: `YAML syntax: ${message}${more}`, position, excerpt: excerptAt(text, position), severity: 'error' });
    return [];
  }
  if (!parsed.documents.length) {
    result.errors.push({ file, path: [], message: 'holds no automation (the file is empty)', severity: 'error' });
  }
  return parsed.documents.map((document, index) => ({
    definition: parsed.documents.length > 1 ? `#${index + 1}` : '',
    data: document.data,
    position: document.position,
    locate: document.locate,
  }));
}

const require = createRequire(import.meta.url);
const evaluateModuleScript = fileURLToPath(new URL('./evaluateModule.js', import.meta.url));

async function readModuleFile(file: string, explicit: boolean, result: LoadResult): Promise<RawDefinition[]> {
  const marker = `REFIT-DEFINITIONS-${randomUUID()}:`;
  const tsx = pathToFileURL(require.resolve('tsx')).href;
  let stdout: string;
  try {
    ({ stdout } = await run(process.execPath, ['--import', tsx, evaluateModuleScript, path.resolve(file), marker], {
      timeout: 60_000,
      maxBuffer: 16 << 20,
      // A definition module is code from whoever wrote it: it gets no credentials of the person running refit.
      env: moduleEnvironment(),
    }));
  } catch (err) {
    const stderr = ((err as { stderr?: string }).stderr ?? '').trim();
    const lines = stderr.split('\n');
    const firstError = lines.find((line) => /^\s*(\w*Error|error)\b[^:]*: /.test(line)) ?? lines[0] ?? (err as Error).message;
    result.errors.push({ file, path: [], message: `could not load this module: ${firstError.trim()}`, severity: 'error' });
    return [];
  }
  const line = stdout.split('\n').find((text) => text.startsWith(marker));
  const found = line ? (JSON.parse(line.slice(marker.length)) as { exportName: string; definition: unknown }[]) : [];
  if (!found.length && explicit) {
    result.errors.push({ file, path: [], message: 'exports no automation: export the result of Automation({ ... })', severity: 'error' });
  }
  return found.map(({ exportName, definition }) => ({ definition: exportName, data: definition }));
}

const MODULE_ENVIRONMENT = /^(PATH|HOME|USER|LOGNAME|LANG|LC_\w+|TZ|TMPDIR)$/;

function moduleEnvironment(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) if (value !== undefined && MODULE_ENVIRONMENT.test(key)) env[key] = value;
  return env;
}

function rejectDuplicateNames(result: LoadResult): void {
  const first = new Map<string, LoadedAutomation>();
  result.automations = result.automations.filter((loaded) => {
    const earlier = first.get(loaded.automation.name);
    if (!earlier) {
      first.set(loaded.automation.name, loaded);
      return true;
    }
    result.errors.push({
      file: loaded.file,
      definition: loaded.definition,
      position: loaded.position,
      path: ['name'],
      message: `"${loaded.automation.name}" is already the name of an automation in ${earlier.file}${earlier.definition ? ` (${earlier.definition})` : ''}: names must be unique`,
      severity: 'error',
    });
    return false;
  });
}

/** The line at `position`, numbered, and a caret under its column. */
export function excerptAt(text: string, position: Position): string | undefined {
  const line = text.split(/\r?\n/)[position.line - 1];
  if (line === undefined) return undefined;
  const gutter = `${position.line} | `;
  const shown = line.length > 160 ? `${line.slice(0, 160)}…` : line;
  return `${gutter}${shown.replace(/\t/g, ' ')}\n${' '.repeat(gutter.length + Math.max(0, Math.min(position.column - 1, shown.length)))}^`;
}
