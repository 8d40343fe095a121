/**
 * Backend names resolve to packages the way ESLint-style ecosystems do: `backend: "foo"`
 * is the package `qdeploy-backend-foo` (or `@qdeploy/backend-foo`), `"@acme/foo"` is
 * `@acme/qdeploy-backend-foo`, `"@acme"` is `@acme/qdeploy-backend`; the name as written
 * is tried last. A name nothing answers to is "unknown backend", with what is installed.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

export const BACKEND_PACKAGE_PREFIX = 'qdeploy-backend-';

/** The package names a backend spec may stand for, most specific first. */
export function backendPackageCandidates(spec: string): string[] {
  const out: string[] = [];
  const scoped = /^(@[^/]+)(?:\/(.+))?$/.exec(spec);
  if (scoped) {
    const [, scope, rest] = scoped;
    if (rest === undefined) out.push(`${scope}/qdeploy-backend`);
    else if (!rest.startsWith(BACKEND_PACKAGE_PREFIX) && !(scope === '@qdeploy' && rest.startsWith('backend-'))) out.push(`${scope}/${BACKEND_PACKAGE_PREFIX}${rest}`);
  } else if (!spec.startsWith(BACKEND_PACKAGE_PREFIX) && !spec.includes('/')) {
    out.push(`${BACKEND_PACKAGE_PREFIX}${spec}`, `@qdeploy/backend-${spec}`);
  }
  if (!scoped || scoped[2] !== undefined) out.push(spec);
  return [...new Set(out)];
}

/** True for a package name that follows the backend naming convention. */
export function isBackendPackageName(name: string): boolean {
  return /^(@[^/]+\/)?qdeploy-backend(-.+)?$/.test(name) || /^@qdeploy\/backend-.+$/.test(name);
}

/** Backend packages installed where Node would look from each folder in `from` (sorted, unique). */
export function installedBackendPackages(from: readonly string[]): string[] {
  const found = new Set<string>();
  for (const dir of from) {
    let lookup: string[] | null = null;
    try {
      lookup = createRequire(path.join(dir, 'noop.js')).resolve.paths('x');
    } catch {
      // not a folder Node can resolve from
    }
    for (const nm of lookup ?? []) {
      let entries: string[];
      try {
        entries = fs.readdirSync(nm);
      } catch {
        continue;
      }
      for (const e of entries) {
        if (e.startsWith('@')) {
          let scoped: string[] = [];
          try {
            scoped = fs.readdirSync(path.join(nm, e));
          } catch {
            // not readable
          }
          for (const s of scoped) if (isBackendPackageName(`${e}/${s}`)) found.add(`${e}/${s}`);
        } else if (isBackendPackageName(e)) {
          found.add(e);
        }
      }
    }
  }
  return [...found].sort();
}

/** The short backend name a convention-named package answers to ("qdeploy-backend-foo" → "foo"). */
export function backendShortName(pkg: string): string {
  const m = /^(?:(@[^/]+)\/)?qdeploy-backend(?:-(.+))?$/.exec(pkg);
  if (m) return m[1] ? (m[2] ? `${m[1]}/${m[2]}` : m[1]) : m[2]!;
  const q = /^@qdeploy\/backend-(.+)$/.exec(pkg);
  return q ? q[1]! : pkg;
}
