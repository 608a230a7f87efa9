import { mkdir, mkdtemp } from 'node:fs/promises';
import { join } from 'node:path';

/** A fresh folder under the repo's ignored .granary/tmp (inside the repo, so `import 'granary'` and tsx resolve). */
export async function tempDir(prefix: string): Promise<string> {
  const root = join(process.cwd(), '.granary', 'tmp');
  await mkdir(root, { recursive: true });
  return mkdtemp(join(root, `${prefix}-`));
}
