/** Every projection, by name. Each runs as its own consumer group. */
import type { Projection } from '../runtime/types.js';
import { usersProjection } from './users.js';

export const projections: Readonly<Record<string, Projection>> = {
  users: usersProjection,
};

export { usersProjection };
export { userKeys } from './users.js';
