/** Deterministic recursive listing of data files. */
import fs from 'node:fs/promises';
import path from 'node:path';

/**
 * Files under `dir` (recursive) whose extension is in `extensions` (lower case, with the
 * dot), skipping hidden entries (".DS_Store", "._x.png", ".git"). Sorted by relative
 * path, by UTF-16 code unit (like Python's sorted()), so every run sees the same order.
 */
export async function listDataFiles(dir: string, extensions: readonly string[]): Promise<string[]> {
  const exts = new Set(extensions.map((e) => e.toLowerCase()));
  const found: string[] = [];
  const visited = new Set<string>();
  const walk = async (rel: string): Promise<void> => {
    const real = await fs.realpath(path.join(dir, rel));
    if (visited.has(real)) return; // a symlink loop
    visited.add(real);
    const entries = await fs.readdir(path.join(dir, rel), { withFileTypes: true });
    for (const entry of entries) {
      if (entry.name.startsWith('.')) continue;
      const child = rel === '' ? entry.name : `${rel}/${entry.name}`;
      let isDir = entry.isDirectory();
      let isFile = entry.isFile();
      if (entry.isSymbolicLink()) {
        const st = await fs.stat(path.join(dir, child)).catch(() => undefined);
        isDir = st?.isDirectory() ?? false;
        isFile = st?.isFile() ?? false;
      }
      if (isDir) await walk(child);
      else if (isFile && exts.has(path.extname(entry.name).toLowerCase())) found.push(child);
    }
  };
  await walk('');
  found.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return found.map((rel) => path.join(dir, rel));
}
