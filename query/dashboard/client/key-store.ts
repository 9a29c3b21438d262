/**
 * Where the page keeps the API key: this browser's local storage. A key may also be handed over
 * in the link, `/dashboard#key=<key>` (preferred: a fragment never reaches the server or its logs)
 * or `/dashboard?key=<key>`; either is stored and at once removed from the address bar and history.
 */

const STORAGE_KEY = 'tributary.dashboard.apiKey';

/** Reads storage, tolerating browsers where it is disabled. */
function stored(): string | null {
  try {
    return localStorage.getItem(STORAGE_KEY);
  } catch {
    return null;
  }
}

export class KeyStore {
  private current: string | null;

  constructor() {
    this.current = this.fromLocation() ?? stored();
  }

  /** Takes a key handed over in the URL since the page loaded (a `#key=` link opened in this tab). */
  takeFromLocation(): boolean {
    const key = this.fromLocation();
    if (key === null) return false;
    this.current = key;
    return true;
  }

  get(): string | null {
    return this.current;
  }

  set(key: string): void {
    this.current = key.trim() || null;
    try {
      if (this.current) localStorage.setItem(STORAGE_KEY, this.current);
      else localStorage.removeItem(STORAGE_KEY);
    } catch {
      // Storage disabled: the key lasts as long as the page.
    }
  }

  /** Takes a key from `#key=` or `?key=`, stores it, and scrubs it from the URL. */
  private fromLocation(): string | null {
    const url = new URL(location.href);
    const hash = new URLSearchParams(url.hash.slice(1));
    const key = hash.get('key') ?? url.searchParams.get('key');
    if (key === null) return null;
    hash.delete('key');
    url.searchParams.delete('key');
    url.hash = hash.size > 0 ? hash.toString() : '';
    history.replaceState(history.state, '', url.href);
    const trimmed = key.trim();
    if (trimmed) {
      try {
        localStorage.setItem(STORAGE_KEY, trimmed);
      } catch {
        // Kept in memory only.
      }
    }
    return trimmed || null;
  }
}
