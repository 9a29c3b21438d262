/**
 * A tiny element builder. Every value from the API (page paths, group names) goes in as text,
 * never as HTML: page paths are whatever visitors' browsers sent.
 */

export interface ElementProps {
  readonly class?: string;
  readonly text?: string;
  readonly title?: string;
  readonly testid?: string;
  readonly data?: Readonly<Record<string, string>>;
}

/** `<tag class=… data-testid=…>text children…</tag>`. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: ElementProps = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (props.class) el.className = props.class;
  if (props.text !== undefined) el.textContent = props.text;
  if (props.title) el.title = props.title;
  if (props.testid) el.dataset.testid = props.testid;
  for (const [name, value] of Object.entries(props.data ?? {})) el.dataset[name] = value;
  el.append(...children);
  return el;
}

/** The element with `id`, or an error naming it (the page and the script disagree). */
export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`the page has no #${id}`);
  return el as T;
}

/** The first element matching `selector` under `root`, or an error naming it. */
export function find<T extends Element = HTMLElement>(root: ParentNode, selector: string): T {
  const el = root.querySelector(selector);
  if (!el) throw new Error(`no ${selector} on the page`);
  return el as T;
}
