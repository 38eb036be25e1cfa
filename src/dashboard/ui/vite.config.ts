// Vite build of the dashboard: src/dashboard/ui → dist/src/dashboard/public
// (index.html + content-hashed assets/), which `meshcd serve` serves on the
// admin port. Run by `npm run build`; nothing here runs at serve time.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

export default defineConfig({
  root: here('.'),
  base: '/',
  publicDir: false,
  logLevel: 'warn',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: here('../../../dist/src/dashboard/public'),
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    // One app chunk and one per heavy library keeps the first paint small and the cache stable.
    chunkSizeWarningLimit: 600,
    rollupOptions: {
      output: {
        // Letters and digits only, so the admin server recognises `app-<hash>.js` as content-hashed (immutable).
        hashCharacters: 'base36',
        entryFileNames: 'assets/app-[hash].js',
        chunkFileNames: 'assets/[name]-[hash].js',
        assetFileNames: 'assets/[name]-[hash][extname]',
      },
    },
  },
});
