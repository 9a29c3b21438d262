/**
 * The analytics consumer group: windows in event time over `users`, `orders` and `page-views`
 * (DESIGN.md §5). Readers of its keys are in lib/read-models/analytics.ts.
 */
export {
  ANALYTICS_NAME,
  ANALYTICS_TOPICS,
  analyticsProjection,
  createAnalyticsProjection,
} from './analytics-projection.js';
export type {
  AnalyticsBatchUpdate,
  AnalyticsFinalUpdate,
  AnalyticsUpdate,
} from '../../lib/read-models/analytics.js';
export { AnalyticsMetrics, analyticsMetrics } from './analytics-metrics.js';
export { Finalizer, windowResult } from './finalizer.js';
export { LateEventHeaders, lateEventRecord } from './late-events.js';
export { WindowBatch, factsOf, type EventFacts } from './window-batch.js';
export * from './windows.js';
