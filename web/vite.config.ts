import { defineConfig, type Plugin } from 'vite';
import react from '@vitejs/plugin-react';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';

// `npm run dev` serves the client on :5173 and forwards the API and sockets to a running
// `moot serve` (default 127.0.0.1:8000; MOOT_DEV_API overrides).
const api = process.env.MOOT_DEV_API ?? 'http://127.0.0.1:8000';

// Text files worth compressing; moot serves the `.br` or `.gz` copy to a browser that accepts
// it (src/moot/web.py), so no request pays for compression.
const COMPRESSIBLE = /\.(html|js|mjs|css|svg|json|webmanifest|txt)$/;
const MIN_BYTES = 1024;

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : [path];
  });
}

/** Write Brotli and gzip copies of the build's text files, at their highest levels. */
function precompress(): Plugin {
  let outDir = 'dist';
  return {
    name: 'moot-precompress',
    apply: 'build',
    configResolved(config) {
      outDir = resolve(config.root, config.build.outDir);
    },
    closeBundle() {
      for (const path of files(outDir)) {
        if (!COMPRESSIBLE.test(path)) continue;
        const body = readFileSync(path);
        if (body.length < MIN_BYTES) continue;
        const br = brotliCompressSync(body, {
          params: { [constants.BROTLI_PARAM_QUALITY]: constants.BROTLI_MAX_QUALITY },
        });
        const gz = gzipSync(body, { level: 9 });
        if (br.length < body.length) writeFileSync(`${path}.br`, br);
        if (gz.length < body.length) writeFileSync(`${path}.gz`, gz);
      }
    },
  };
}

export default defineConfig({
  plugins: [react(), precompress()],
  server: {
    proxy: {
      '/api': { target: api, changeOrigin: true },
      '/ws': { target: api.replace(/^http/, 'ws'), ws: true, changeOrigin: true },
    },
  },
  build: {
    target: 'es2022',
    // livekit-client is one lazily loaded chunk of ~530 kB, fetched only in LiveKit mode.
    chunkSizeWarningLimit: 600,
    // The AudioWorklet module stays a file of its own rather than a data: URL.
    assetsInlineLimit: (file) => (file.endsWith('.js') ? false : undefined),
  },
});
