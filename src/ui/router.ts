/** Hash routes: '#/runs?status=failed' is page 'runs' with its query; '#/run/<id>' a run. */
import { useEffect, useState } from 'preact/hooks';

export interface Route {
  page: string;
  /** Path segments after the page (decoded): a run id. */
  rest: string[];
  query: URLSearchParams;
}

/** The route of a hash. */
export function parseHash(hash: string): Route {
  const text = hash.replace(/^#\/?/, '');
  const [path = '', search = ''] = text.split('?', 2) as [string, string?];
  const [page = '', ...rest] = path.split('/').map((part) => decodeURIComponent(part));
  return { page: page || 'versions', rest, query: new URLSearchParams(search) };
}

/** The hash of a page with a query (empty values left out). */
export function hrefOf(page: string, query: Record<string, string | undefined> = {}): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value !== undefined && value !== '') search.set(key, value);
  const text = search.toString();
  return `#/${page}${text ? `?${text}` : ''}`;
}

/** The current route, re-rendered on every hash change. */
export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseHash(location.hash));
  useEffect(() => {
    const onChange = () => setRoute(parseHash(location.hash));
    addEventListener('hashchange', onChange);
    return () => removeEventListener('hashchange', onChange);
  }, []);
  return route;
}
