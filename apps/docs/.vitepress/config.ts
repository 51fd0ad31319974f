import { defineConfig } from 'vitepress';

const API_PACKAGES = ['tensor', 'granularity', 'observers', 'onnx', 'wasm', 'pipeline'];

export default defineConfig({
  title: 'qgrain',
  description:
    'Post-training quantization of ONNX models in TypeScript, built around quantization granularity.',
  srcDir: 'pages',
  // The site is static and self-contained: no web fonts, no CDN, no analytics.
  head: [['link', { rel: 'icon', type: 'image/svg+xml', href: '/favicon.svg' }]],
  cleanUrls: false,
  lastUpdated: false,
  themeConfig: {
    nav: [
      { text: 'Guide', link: '/guide/scale-and-zero-point' },
      { text: 'Tutorials', link: '/tutorials/cli' },
      { text: 'Explorer', link: '/explorer' },
      { text: 'Measured', link: '/measured/ppocr-v4' },
      { text: 'Reference', link: '/reference/cli' },
    ],
    sidebar: [
      {
        text: 'Guide',
        items: [
          { text: 'Scale and zero point', link: '/guide/scale-and-zero-point' },
          { text: 'The granularity ladder', link: '/guide/granularity' },
          { text: 'Weights per channel, activations per tensor', link: '/guide/weights-and-activations' },
          { text: 'Calibration', link: '/guide/calibration' },
          { text: 'int4 blocks and per-token', link: '/guide/blocks-and-tokens' },
          { text: 'Where the Q/DQ pairs go', link: '/guide/qdq-placement' },
        ],
      },
      {
        text: 'Tutorials',
        items: [
          { text: 'The CLI, from install to report', link: '/tutorials/cli' },
          { text: 'The Node API', link: '/tutorials/node-api' },
          { text: 'In the browser, with a bundler', link: '/tutorials/browser' },
          { text: 'Inside a service', link: '/tutorials/service' },
        ],
      },
      {
        text: 'Try and measure',
        items: [
          { text: 'Granularity Explorer', link: '/explorer' },
          { text: 'PP-OCRv4, measured', link: '/measured/ppocr-v4' },
        ],
      },
      {
        text: 'Reference',
        items: [
          { text: 'CLI', link: '/reference/cli' },
          {
            text: 'API',
            link: '/api/',
            items: API_PACKAGES.map((name) => ({ text: `@qgrain/${name}`, link: `/api/${name}` })),
          },
        ],
      },
    ],
    search: { provider: 'local' },
    outline: [2, 3],
  },
  vite: {
    worker: { format: 'es' },
    build: { chunkSizeWarningLimit: 2048 },
  },
});
