/** Every projection, by name. Each runs as its own consumer group. */
import { analyticsProjection } from '../analytics/analytics-projection.js';
import type { Projection } from '../runtime/types.js';
import { ordersProjection } from './orders.js';
import { userCountProjection } from './user-count.js';
import { usersProjection } from './users.js';

export const projections: Readonly<Record<string, Projection>> = {
  users: usersProjection,
  'user-count': userCountProjection,
  orders: ordersProjection,
  // Windowed aggregates (consumers/analytics/); the runtime runs the instance its configure() makes.
  analytics: analyticsProjection,
};

export { ordersProjection, userCountProjection, usersProjection };
export { orderKeys } from './orders.js';
export { userCountKeys } from './user-count.js';
export { userKeys } from './users.js';
