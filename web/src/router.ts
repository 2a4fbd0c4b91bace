// Two pages need no router library: `/` and `/r/<code>`, with history.pushState.
import { useEffect, useState } from 'react';

export type Route = { page: 'landing' } | { page: 'room'; code: string };

const CODE = /^[a-z]{3}-[a-z]{4}-[a-z]{3}$/;

export function parse(pathname: string): Route {
  const match = /^\/r\/([^/]+)\/?$/.exec(pathname);
  return match ? { page: 'room', code: decodeURIComponent(match[1]).toLowerCase() } : { page: 'landing' };
}

/** A room code from what someone pasted: the code itself or any link to /r/<code>. */
export function codeFrom(input: string): string | null {
  const text = input.trim().toLowerCase();
  if (CODE.test(text)) return text;
  const compact = text.replace(/[^a-z]/g, '');
  if (/^[a-z]{10}$/.test(compact)) return `${compact.slice(0, 3)}-${compact.slice(3, 7)}-${compact.slice(7)}`;
  const inLink = /\/r\/([a-z]{3}-[a-z]{4}-[a-z]{3})/.exec(text);
  return inLink ? inLink[1] : null;
}

export function navigate(path: string, state: Record<string, unknown> | null = null, replace = false) {
  if (replace) history.replaceState(state, '', path);
  else history.pushState(state, '', path);
  window.dispatchEvent(new PopStateEvent('popstate'));
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parse(location.pathname));
  useEffect(() => {
    const update = () => setRoute(parse(location.pathname));
    window.addEventListener('popstate', update);
    return () => window.removeEventListener('popstate', update);
  }, []);
  return route;
}

export const roomLink = (code: string) => `${location.origin}/r/${code}`;
