import { useEffect, useState } from "preact/hooks";

/** Where the UI lives; every client route is under it. */
export const BASE = "/ui";

const listeners = new Set<() => void>();

/** The current path below BASE (always starting with `/`) and its query. */
export function currentLocation(): { path: string; query: URLSearchParams } {
  const { pathname, search } = window.location;
  const path = pathname.startsWith(BASE) ? pathname.slice(BASE.length) || "/" : "/";
  return { path, query: new URLSearchParams(search) };
}

/** Goes to `to` (a path below BASE, with its query) without reloading. */
export function navigate(to: string, replace = false): void {
  const url = `${BASE}${to}`;
  if (replace) history.replaceState(null, "", url);
  else history.pushState(null, "", url);
  for (const l of listeners) l();
  window.scrollTo(0, 0);
}

/** Re-renders on every navigation; returns the current location. */
export function useLocation(): { path: string; query: URLSearchParams } {
  const [, setTick] = useState(0);
  useEffect(() => {
    const update = () => setTick((t) => t + 1);
    listeners.add(update);
    window.addEventListener("popstate", update);
    return () => {
      listeners.delete(update);
      window.removeEventListener("popstate", update);
    };
  }, []);
  return currentLocation();
}

/** Links inside the UI are followed without a reload (plain clicks only; modified clicks open tabs as usual). */
export function interceptLinks(): void {
  document.addEventListener("click", (event) => {
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    const anchor = (event.target as Element | null)?.closest("a");
    if (!anchor || anchor.target || anchor.hasAttribute("download")) return;
    const url = new URL(anchor.href, window.location.href);
    if (url.origin !== window.location.origin || !url.pathname.startsWith(`${BASE}/`) || (url.hash && url.pathname === window.location.pathname)) return;
    event.preventDefault();
    navigate(url.pathname.slice(BASE.length) + url.search);
  });
}

/** The href of a client route. */
export const href = (to: string): string => `${BASE}${to}`;
