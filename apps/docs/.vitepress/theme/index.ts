import DefaultTheme from 'vitepress/theme';
import type { Theme } from 'vitepress';
import GranularityExplorer from './GranularityExplorer.vue';

export default {
  extends: DefaultTheme,
  enhanceApp({ app }) {
    app.component('GranularityExplorer', GranularityExplorer);
  },
} satisfies Theme;
