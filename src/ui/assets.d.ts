/** Style sheets are bundled by esbuild; importing one adds it to the page's app-<hash>.css. */
declare module '*.css';
