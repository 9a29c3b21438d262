/** The key builder lives in lib/ so the query side can read what consumers write. */
export * from '../lib/redis-keys.js';
