import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { packageRoot } from '../../platform/paths.js';
import { INSTANCE_SIZES } from '../../spec/instanceSizes.js';

describe('the README', () => {
  it('lists exactly the instance sizes the validator accepts, with their resources', () => {
    const readme = readFileSync(path.join(packageRoot(), 'README.md'), 'utf8');
    const rows = [...readme.matchAll(/^\| `([\w.]+)` \| ([\d.]+) \| (\w+) \| (.*?) ?\|$/gm)].map(([, name, cpus, memory, gpu]) => ({
      name,
      cpus: Number(cpus),
      memory,
      gpu: gpu!.trim(),
    }));
    const expected = Object.entries(INSTANCE_SIZES).map(([name, size]) => ({
      name,
      cpus: size.cpus,
      memory: size.memory,
      gpu: size.gpu ? `${size.gpu.amount} × ${size.gpu.type}` : '',
    }));
    expect(rows).toEqual(expected);
  });
});
