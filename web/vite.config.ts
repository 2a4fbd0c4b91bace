import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// `npm run dev` serves the client on :5173 and forwards the API and sockets to a running
// `moot serve` (default 127.0.0.1:8000; MOOT_DEV_API overrides).
const api = process.env.MOOT_DEV_API ?? 'http://127.0.0.1:8000';

export default defineConfig({
  plugins: [react()],
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
