/**
 * Builds the dashboard (src/ui, Preact) with esbuild into a folder: index.html and hashed, minified app-<hash>.js
 * and app-<hash>.css. Run by `npm run build` (into dist/ui) and before `npm start`; tests build into a temp folder.
 */
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The package's root folder (this module is in src/server or dist/server). */
export const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** What a build wrote: the folder and the hashed file names. */
export interface DashboardBuild {
  outDir: string;
  script: string;
  style: string;
}

/** Bundles src/ui into `outDir` (its earlier app-* files are removed). (Default outDir: dist/ui of the package) */
export async function buildDashboard(outDir = join(PACKAGE_ROOT, 'dist', 'ui')): Promise<DashboardBuild> {
  const esbuild = await import('esbuild');
  mkdirSync(outDir, { recursive: true });
  for (const name of readdirSync(outDir))
    if (/^app-.*\.(js|css)$/.test(name) || name === 'index.html') rmSync(join(outDir, name));
  const result = await esbuild.build({
    entryPoints: { app: join(PACKAGE_ROOT, 'src', 'ui', 'main.tsx') },
    bundle: true,
    minify: true,
    format: 'esm',
    target: 'es2020',
    jsx: 'automatic',
    jsxImportSource: 'preact',
    entryNames: '[name]-[hash]',
    outdir: outDir,
    metafile: true,
    logLevel: 'silent',
    legalComments: 'none',
  });
  const outputs = Object.keys(result.metafile.outputs).map((path) => basename(path));
  const script = outputs.find((name) => name.endsWith('.js'));
  const style = outputs.find((name) => name.endsWith('.css'));
  if (!script || !style) throw new Error(`the dashboard build wrote no script or style: ${outputs.join(', ')}`);
  writeFileSync(join(outDir, 'index.html'), indexHtml(script, style));
  return { outDir, script, style };
}

/** The page shell: it holds no data, only the hashed script and style. */
function indexHtml(script: string, style: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Waymark</title>
<link rel="stylesheet" href="/ui/${style}">
</head>
<body>
<div id="app"></div>
<script type="module" src="/ui/${script}"></script>
</body>
</html>
`;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const built = await buildDashboard(process.argv[2]);
  console.log(`dashboard built into ${built.outDir}: ${built.script}, ${built.style}`);
}
