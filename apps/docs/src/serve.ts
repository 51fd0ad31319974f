// A static file server for the built site, on 127.0.0.1 and a port the OS picks: what the
// end-to-end test and the first-load measurement open the explorer from.
import { createReadStream, existsSync, statSync } from 'node:fs';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, resolve } from 'node:path';

/** The built site (`vitepress build` output). */
export const SITE_DIR = resolve(import.meta.dirname, '../.vitepress/dist');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
  '.wasm': 'application/wasm',
  '.onnx': 'application/octet-stream',
};

/** A running server and how to stop it. */
export interface SiteServer {
  /** `http://127.0.0.1:<port>` */
  readonly origin: string;
  close(): Promise<void>;
}

function fileFor(root: string, urlPath: string): string | undefined {
  const path = normalize(decodeURIComponent(urlPath.split('?')[0]!)).replace(/^(\.\.[/\\])+/, '');
  const candidates = [join(root, path), join(root, path, 'index.html'), join(root, `${path}.html`)];
  return candidates.find((file) => file.startsWith(root) && existsSync(file) && statSync(file).isFile());
}

/** One file the server sent. */
export interface Served {
  readonly file: string;
  readonly bytes: number;
  /** The browser asked for it ahead of need (`<link rel="prefetch">`, sent with `Sec-Purpose: prefetch`). */
  readonly prefetch: boolean;
}

/** Serves `root` until closed; `onServe` hears of every file sent (for counting bytes). */
export async function serveSite(root = SITE_DIR, onServe?: (served: Served) => void): Promise<SiteServer> {
  if (!existsSync(join(root, 'index.html'))) {
    throw new Error(`${root} has no index.html: build the docs first (pnpm --filter @qgrain/docs build)`);
  }
  const server: Server = createServer((request, response) => {
    const file = fileFor(root, request.url ?? '/');
    if (!file) {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    const size = statSync(file).size;
    response.writeHead(200, {
      'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
      'content-length': size,
    });
    const purpose = request.headers['sec-purpose'];
    onServe?.({ file, bytes: size, prefetch: typeof purpose === 'string' && purpose.includes('prefetch') });
    createReadStream(file).pipe(response);
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    close: () => new Promise((done) => server.close(() => done())),
  };
}
