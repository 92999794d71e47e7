/**
 * How the environments model scales with the store: when a store counts as small (everything
 * loaded and expanded, as on a personal server), which namespaces a large one opens with, and
 * paging through list answers.
 */
import { MAX_PAGE_SIZE } from './api';
import type { IPage } from './models';

/**
 * Up to this many environments the store is small: one request loads them all and every
 * namespace is expanded. Beyond it namespaces load when expanded and search asks the server.
 */
export const SMALL_STORE = 200;

/** The most matches one search shows (one page): more means the words are too vague. */
export const SEARCH_LIMIT = MAX_PAGE_SIZE;

/** How many namespaces load at once (the server has few threads; a browser ~6 connections). */
export const PARALLEL_LOADS = 4;

/**
 * The namespaces a large store opens with: the user's own (primary) namespace and those where a
 * new environment's build is queued or running. A small store opens with all of them.
 */
export function initiallyExpanded(
  small: boolean,
  namespaces: ReadonlyArray<string>,
  primary: string | null,
  building: ReadonlyArray<string>
): Set<string> {
  if (small) {
    return new Set(namespaces);
  }
  const known = new Set(namespaces);
  return new Set([primary ?? '', ...building].filter(name => known.has(name)));
}

/**
 * Every item of a paged list (up to `limit`): the first page says how many there are, the
 * others are then asked for together.
 */
export async function allPages<T>(
  get: (page: number) => Promise<IPage<T>>,
  limit = Infinity
): Promise<IPage<T>> {
  const first = await get(1);
  const wanted = Math.min(first.count, limit);
  const size = first.items.length;
  const pages = size > 0 && wanted > size ? Math.ceil(wanted / size) : 1;
  const rest = await Promise.all(Array.from({ length: pages - 1 }, (_, index) => get(index + 2)));
  const items = [first, ...rest].flatMap(page => page.items).slice(0, limit);
  return { items, page: 1, size: items.length, count: first.count };
}

/** `work` over `items`, at most `parallel` at a time; results in the order of `items`. */
export async function mapLimit<T, R>(
  items: ReadonlyArray<T>,
  parallel: number,
  work: (item: T) => Promise<R>
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, items.length) }, worker));
  return results;
}

/** The word of a search the server looks for (it matches one piece of the name): the longest. */
export function serverWord(query: string): string {
  return query
    .trim()
    .split(/\s+/)
    .reduce((longest, word) => (word.length > longest.length ? word : longest), '');
}
