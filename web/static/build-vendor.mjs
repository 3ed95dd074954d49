// Copies the browser builds of the portal's npm dependencies into web/static/vendor/
// (not committed; run `npm ci && npm run build:web`).
//
// qrcode: build/qrcode.js is a self-contained IIFE that defines the global `QRCode`
// (toDataURL, toCanvas, toString); index.html loads it with a classic <script src>.
// qrcode is pinned to 1.5.1 because 1.5.2+ are published without the build/ folder.
//
// @xterm/xterm and @xterm/addon-fit: the ES module builds (lib/*.mjs, no imports of their own),
// loaded by the terminal view with import(); xterm.css by index.html.
import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const vendorDir = join(here, 'vendor');
const require = createRequire(join(here, '..', '..', 'package.json'));

const FILES = [
  { pkg: 'qrcode', from: 'build/qrcode.js', to: 'qrcode.js' },
  { pkg: 'qrcode', from: 'license', to: 'qrcode.LICENSE.txt' },
  { pkg: '@xterm/xterm', from: 'lib/xterm.mjs', to: 'xterm.mjs' },
  { pkg: '@xterm/xterm', from: 'css/xterm.css', to: 'xterm.css' },
  { pkg: '@xterm/xterm', from: 'LICENSE', to: 'xterm.LICENSE.txt' },
  { pkg: '@xterm/addon-fit', from: 'lib/addon-fit.mjs', to: 'addon-fit.mjs' },
  { pkg: '@xterm/addon-fit', from: 'LICENSE', to: 'addon-fit.LICENSE.txt' },
];

function packageDir(pkg) {
  try {
    return dirname(require.resolve(`${pkg}/package.json`));
  } catch {
    throw new Error(`npm package "${pkg}" is not installed; run "npm ci" at the repository root first`);
  }
}

try {
  mkdirSync(vendorDir, { recursive: true });
  for (const file of FILES) {
    const dir = packageDir(file.pkg);
    const source = join(dir, file.from);
    if (!existsSync(source)) {
      const version = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).version;
      throw new Error(`${file.pkg}@${version} has no ${file.from} (the browser build); check the version pinned in package.json`);
    }
    const target = join(vendorDir, file.to);
    copyFileSync(source, target);
    console.log(`build:web: ${relative(process.cwd(), source)} -> ${relative(process.cwd(), target)}`);
  }
} catch (error) {
  console.error(`build:web: ${error.message}`);
  process.exit(1);
}
