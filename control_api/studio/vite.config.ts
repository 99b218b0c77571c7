import { defineConfig } from "vitest/config";
import vue from "@vitejs/plugin-vue";

// The production Content-Security-Policy is `script-src 'self'`: no inline scripts, no eval, no
// `new Function`. vue-i18n is pinned to its runtime build (messages are plain strings, compiled to an AST
// at run time without `new Function`), and `npm run build` is followed by a grep of dist/ for it.
export default defineConfig({
  base: "/",
  plugins: [vue()],
  resolve: {
    alias: [{ find: /^vue-i18n$/, replacement: "vue-i18n/dist/vue-i18n.runtime.esm-bundler.js" }],
  },
  define: {
    __VUE_I18N_FULL_INSTALL__: true,
    __VUE_I18N_LEGACY_API__: false,
    __INTLIFY_PROD_DEVTOOLS__: false,
    __INTLIFY_DROP_MESSAGE_COMPILER__: false,
  },
  server: {
    proxy: { "/api": "http://127.0.0.1:8000" },
  },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    chunkSizeWarningLimit: 1500,
  },
  test: {
    environment: "happy-dom",
    include: ["src/**/__tests__/*.spec.ts"],
  },
});
