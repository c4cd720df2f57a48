import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { run } from './scratch-app';

/** A package as `npm pack` made it. */
export interface PackedPackage {
  /** The tarball's path. */
  tarball: string;
  /** The paths inside the package (`dist/index.js`, `package.json`, ...). */
  files: string[];
}

/**
 * Packs the package at `root` into `destination` with `npm pack`, which runs the package's
 * `prepack` and `prepare` scripts as a publish would.
 */
export async function pack(root: string, destination: string): Promise<PackedPackage> {
  const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', destination], { cwd: root, timeoutMs: 60_000 });
  // Scripts may print before the JSON report.
  const report = JSON.parse(stdout.slice(stdout.search(/^\[/m))) as Array<{ filename: string; files: Array<{ path: string }> }>;
  return { tarball: path.join(destination, report[0].filename), files: report[0].files.map((file) => file.path) };
}

/**
 * `sourceMappingURL` comments of shipped files that point at a map that is not shipped, or at a
 * map whose sources are neither shipped nor embedded in it.
 *
 * @param installed where the package was unpacked (or installed)
 * @param files the package's files, as {@link pack} lists them
 */
export function danglingSourceMaps(installed: string, files: readonly string[]): string[] {
  const shipped = new Set(files);
  const problems: string[] = [];
  for (const file of files.filter((name) => /\.(c|m)?js$|\.d\.ts$/.test(name))) {
    const url = /\/\/# sourceMappingURL=(\S+)\s*$/.exec(readFileSync(path.join(installed, file), 'utf8'))?.[1];
    if (!url) continue;
    let map: { sources?: string[]; sourceRoot?: string; sourcesContent?: unknown[] };
    let mapFile = file;
    if (url.startsWith('data:')) {
      map = JSON.parse(Buffer.from(url.slice(url.indexOf(',') + 1), 'base64').toString('utf8'));
    } else {
      mapFile = path.posix.join(path.posix.dirname(file), url);
      if (!shipped.has(mapFile)) {
        problems.push(`${file} points at ${mapFile}, which is not shipped`);
        continue;
      }
      map = JSON.parse(readFileSync(path.join(installed, mapFile), 'utf8'));
    }
    (map.sources ?? []).forEach((source, i) => {
      const sourceFile = path.posix.join(path.posix.dirname(mapFile), map.sourceRoot ?? '', source);
      if (!shipped.has(sourceFile) && map.sourcesContent?.[i] == null) problems.push(`${mapFile} maps ${file} to ${sourceFile}, which is not shipped`);
    });
  }
  return problems;
}
