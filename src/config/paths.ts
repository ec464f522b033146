import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// Data directories (mappings/, profiles/) sit at the project root, which is two levels up from
// src/config when run from source and from dist/config when built: walk up to package.json.
function findProjectRoot(start: string): string {
  let dir = start;
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`package.json not found above ${start}`);
    dir = parent;
  }
}

export const projectRoot = findProjectRoot(dirname(fileURLToPath(import.meta.url)));
export const mappingsDir = join(projectRoot, 'mappings');
export const profilesDir = join(projectRoot, 'profiles');
