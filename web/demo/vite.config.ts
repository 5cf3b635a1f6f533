import { defineConfig } from 'vite';

// The backend serves dist/ at `/` and dist/assets/ at `/assets/`.
export default defineConfig({
  base: '/',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // webitel-sdk (with JsSIP) is one large chunk; that is expected.
    chunkSizeWarningLimit: 4000,
  },
  server: {
    // `npm run dev` against a local `switchboard serve`.
    proxy: { '/demo/api': 'http://127.0.0.1:8080', '/api': 'http://127.0.0.1:8080' },
  },
});
