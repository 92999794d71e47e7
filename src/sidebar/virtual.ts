/**
 * Virtualisation of a long tree: only the rows in view, and a margin around them, are drawn;
 * the others are stood in for by their height. Rows then have one fixed height (see the
 * `jp-mod-virtual` rules in style/sidebar-tree.css).
 */
import React, { useCallback, useLayoutEffect, useRef, useState } from 'react';

/** A row's height when virtual, in pixels (style/sidebar-tree.css says the same). */
export const ROW_HEIGHT = 28;

/** Trees of up to this many rows are drawn whole, rows as tall as their text. */
export const VIRTUAL_FROM = 250;

/** Rows drawn beyond each edge of the view, so a quick scroll shows no gap. */
export const MARGIN_ROWS = 20;

/** The view's height assumed before it is measured (and in tests, where nothing has a size). */
const FALLBACK_HEIGHT = 800;

export interface IWindow {
  /** The first and last row to draw (inclusive). */
  first: number;
  last: number;
}

/**
 * Which rows of `total` to draw, following the scrolling of `scroller` (the element that
 * scrolls, holding `content` somewhere in it); null when the tree is drawn whole. `reveal`
 * scrolls a row into view so that it is drawn.
 */
export function useVirtualWindow(
  scroller: React.RefObject<HTMLElement>,
  content: React.RefObject<HTMLElement>,
  total: number
): { window: IWindow | null; reveal: (index: number) => void } {
  const virtual = total > VIRTUAL_FROM;
  const [view, setView] = useState({ top: 0, height: 0 });
  const offset = useRef(0);

  const measure = useCallback(() => {
    const outer = scroller.current;
    const inner = content.current;
    if (!outer || !inner) {
      return;
    }
    // Where the tree starts in the scrolled content (a status line may come before it).
    offset.current =
      inner.getBoundingClientRect().top - outer.getBoundingClientRect().top + outer.scrollTop;
    const top = Math.max(0, outer.scrollTop - offset.current);
    const height = outer.clientHeight;
    setView(previous =>
      previous.top === top && previous.height === height ? previous : { top, height }
    );
  }, [scroller, content]);

  useLayoutEffect(() => {
    const outer = scroller.current;
    if (!virtual || !outer) {
      return;
    }
    measure();
    outer.addEventListener('scroll', measure, { passive: true });
    const resize = typeof ResizeObserver === 'undefined' ? null : new ResizeObserver(measure);
    resize?.observe(outer);
    return () => {
      outer.removeEventListener('scroll', measure);
      resize?.disconnect();
    };
  }, [virtual, measure, scroller]);

  const reveal = useCallback(
    (index: number) => {
      const outer = scroller.current;
      if (!virtual || !outer) {
        return; // drawn whole: focusing an item scrolls to it
      }
      const top = offset.current + index * ROW_HEIGHT;
      let scrollTop = outer.scrollTop;
      // One row at the top is hidden under the sticky namespace header.
      if (top - ROW_HEIGHT < scrollTop) {
        scrollTop = Math.max(0, top - ROW_HEIGHT);
      } else if (top + ROW_HEIGHT > scrollTop + outer.clientHeight) {
        scrollTop = top + ROW_HEIGHT - (outer.clientHeight || FALLBACK_HEIGHT);
      }
      outer.scrollTop = scrollTop;
      // Drawn now, not on the scroll event to come (nor never, where nothing scrolls: tests).
      setView({ top: Math.max(0, scrollTop - offset.current), height: outer.clientHeight });
    },
    [virtual, scroller, measure]
  );

  if (!virtual) {
    return { window: null, reveal };
  }
  const height = view.height || FALLBACK_HEIGHT;
  const first = Math.max(0, Math.floor(view.top / ROW_HEIGHT) - MARGIN_ROWS);
  const last = Math.min(total - 1, Math.ceil((view.top + height) / ROW_HEIGHT) + MARGIN_ROWS);
  return { window: { first, last }, reveal };
}
