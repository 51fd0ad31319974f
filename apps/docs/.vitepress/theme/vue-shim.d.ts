// TypeScript alone does not read .vue files; the component's own types are checked by its build.
declare module '*.vue' {
  import type { DefineComponent } from 'vue';
  const component: DefineComponent;
  export default component;
}
