// The layer rules of ARCHITECTURE.md are lint rules: a wrong-way import fails `make test`.
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { ESLint } from 'eslint';
import { packageRoot } from '../../platform/paths.js';

const eslint = new ESLint({ cwd: packageRoot() });

async function problems(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: path.join(packageRoot(), file) });
  return (result?.messages ?? []).filter((message) => message.ruleId === '@typescript-eslint/no-restricted-imports').map((message) => message.message);
}

describe('the layer rules', () => {
  it.each([
    [
      'activities/steps/wrong.ts',
      "import { startEmbeddedStack } from '../../devstack/embeddedStack.js';\nexport const x = startEmbeddedStack;\n",
      /activities\/ must not import from .*devstack/,
    ],
    [
      'activities/wrong.ts',
      "import { RefitWorker } from '../worker/createWorker.js';\nexport const x = RefitWorker;\n",
      /activities\/ must not import from .*worker/,
    ],
    ['worker/wrong.ts', "import { demo } from '../devstack/demo.js';\nexport const x = demo;\n", /worker\/ must not import from .*devstack/],
    ['client/wrong.ts', "import { runWorker } from '../worker/main.js';\nexport const x = runWorker;\n", /client\/ must not import from worker/],
    ['shared/wrong.ts', "import { createActivities } from '../activities/index.js';\nexport const x = createActivities;\n", /shared\/ must not import from/],
    ['spec/wrong.ts', "import { refitHome } from '../platform/paths.js';\nexport const x = refitHome;\n", /spec\/ must not import from/],
    ['workflows/wrong.ts', "import { refitHome } from '../platform/paths.js';\nexport const x = refitHome;\n", /Workflow code may only import/],
    [
      'workflows/wrong2.ts',
      "import { createActivities } from '../activities/index.js';\nexport const x = createActivities;\n",
      /Workflow code may only import/,
    ],
    [
      'client/wrong3.ts',
      "import { Client } from '@temporalio/client';\nexport const x = Client;\n",
      /import only types from Temporal's client packages here; load their values with require/,
    ],
    [
      'shared/wrong3.ts',
      "import { defineSearchAttributeKey } from '@temporalio/common';\nexport const x = defineSearchAttributeKey;\n",
      /import only types from Temporal's client packages here/,
    ],
  ])('refuses %s importing the wrong way', async (file, code, message) => {
    expect(await problems(file, code)).toEqual([expect.stringMatching(message)]);
  });

  it.each([
    [
      'activities/fine.ts',
      "import { ErrorTypes } from '../shared/errors.js';\nimport { parseGitUri } from '../spec/gitUri.js';\nimport { logTail } from '../platform/processes.js';\nexport const x = [ErrorTypes, parseGitUri, logTail];\n",
    ],
    [
      'workflows/fine.ts',
      "import type { Activities } from '../activities/index.js';\nimport { ErrorTypes } from '../shared/errors.js';\nexport type A = Activities;\nexport const x = ErrorTypes;\n",
    ],
    ['client/fine.ts', "import type { Client } from '@temporalio/client';\nexport type C = Client;\n"],
    ['worker/fine.ts', "import { Client } from '@temporalio/client';\nexport const x = Client;\n"],
    [
      'devstack/fine.ts',
      "import { RefitWorker } from '../worker/createWorker.js';\nimport { RefitClient } from '../client/refitClient.js';\nexport const x = [RefitWorker, RefitClient];\n",
    ],
  ])('allows %s importing the right way', async (file, code) => {
    expect(await problems(file, code)).toEqual([]);
  });
});
