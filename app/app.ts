/**
 * A loaded app: its definition checked against its `.avsc` files and resolved into what the
 * engine runs (the event catalog, projections by name, the codegen target). Every command of the
 * CLI works on one of these; nothing else in the engine knows the app's domain.
 */
import path from 'node:path';
import { z } from 'zod';
import type { Projection } from '../consumers/runtime/types.js';
import { ErrorCodes, TributaryError, isTributaryError } from '../lib/errors.js';
import { EventCatalog } from '../schemas/catalog.js';
import type { CodegenTarget } from '../schemas/codegen.js';
import type { BridgeDefinition } from '../producers/bridge.js';
import type { EventGenerator } from '../producers/event-generator.js';
import type { IngestRoutes } from '../producers/http/route-kit.js';
import type { AppDefinition } from './define.js';

/** An app, loaded and checked. */
export interface App {
  readonly name: string;
  /** The config file it was loaded from (absolute), or a description for an app built in code. */
  readonly file: string;
  /** The folder paths of the definition are relative to. */
  readonly root: string;
  readonly catalog: EventCatalog;
  /** Its projections by name, in declaration order. */
  readonly projections: ReadonlyMap<string, Projection>;
  readonly codegen: CodegenTarget;
  readonly generator: EventGenerator | undefined;
  readonly ingestRoutes: IngestRoutes | undefined;
  /** Its bridges by name. */
  readonly bridges: ReadonlyMap<string, BridgeDefinition>;
}

const NAME = /^[a-zA-Z0-9][a-zA-Z0-9._-]*$/;

const topicSchema = z
  .object({
    name: z.string().min(1),
    events: z.array(z.string().min(1)).optional(),
    key: z.array(z.string().min(1)).min(1).optional(),
    partitions: z.number().int().positive().optional(),
    retentionMs: z.number().int().min(-1).optional(),
    cleanup: z.enum(['delete', 'compact,delete']).optional(),
    deadLetters: z.boolean().optional(),
  })
  .strict();

const NAME_RULE = 'letters, digits, ".", "_" or "-", starting with a letter or digit';
const isFunction = (v: unknown) => typeof v === 'function';

/** `tributary query <name> …` must not be taken for one of its own subcommands. */
const RESERVED_PROJECTION_NAMES = ['serve', 'counts', 'unique-users', 'revenue', 'top-pages'];

const readerSchema = z
  .object({
    description: z.string().min(1),
    params: z.record(z.string(), z.unknown()).optional(),
    answer: z.record(z.string(), z.unknown()),
    notFound: z.string().optional(),
    read: z.custom<(...args: unknown[]) => unknown>(isFunction, 'expected a function'),
  })
  .strict();

const projectionSchema = z
  .object({
    name: z
      .string()
      .regex(NAME, NAME_RULE)
      .refine((n) => !RESERVED_PROJECTION_NAMES.includes(n), {
        message: `is a name of tributary query's own (${RESERVED_PROJECTION_NAMES.join(', ')}); choose another`,
      }),
    topics: z.array(z.string().min(1)).min(1),
    apply: z.custom<Projection['apply']>(isFunction, 'expected a function'),
    readers: z.record(z.string().regex(NAME, NAME_RULE), readerSchema).optional(),
  })
  .passthrough();

const appSchema = z
  .object({
    name: z.string().regex(NAME, NAME_RULE),
    schemas: z.string().min(1),
    topics: z.array(topicSchema).min(1),
    projections: z.array(projectionSchema).optional(),
    generator: z.custom<EventGenerator>(isFunction, 'expected a function').optional(),
    ingestRoutes: z.custom<IngestRoutes>(isFunction, 'expected a function').optional(),
    bridges: z
      .array(
        z
          .object({
            name: z.string().regex(NAME, NAME_RULE),
            from: z.string().min(1),
            upcast: z.custom<BridgeDefinition['upcast']>(
              (v) => typeof v === 'function',
              'expected a function',
            ),
          })
          .strict(),
      )
      .optional(),
    codegen: z
      .object({ out: z.string().min(1).optional() })
      .strict()
      .optional(),
  })
  .strict();

function appError(file: string, message: string, cause?: unknown): TributaryError {
  return new TributaryError(ErrorCodes.APP_INVALID, `${file}: ${message}`, { cause });
}

/**
 * Checks a definition and resolves it: paths against `root`, events against the `.avsc` files,
 * projections against the topics.
 *
 * @throws {@link TributaryError} `TRIBUTARY_APP_INVALID` naming the file and the path of the bad
 *   value (`projections[1].topics[0]: topic "invoice" is not declared`).
 */
export function resolveApp(definition: unknown, file: string, root = path.dirname(file)): App {
  const parsed = appSchema.safeParse(definition);
  if (!parsed.success) {
    const problems = parsed.error.issues.map(
      (i) => `${i.path.length ? i.path.join('.') : 'the app'}: ${i.message}`,
    );
    throw appError(file, `invalid app definition: ${problems.join('; ')}`, parsed.error);
  }
  const def = definition as AppDefinition;
  let catalog: EventCatalog;
  try {
    catalog = EventCatalog.load(path.resolve(root, def.schemas), def.topics);
  } catch (err) {
    if (isTributaryError(err)) throw appError(file, err.message, err);
    throw err;
  }
  const projections = new Map<string, Projection>();
  (def.projections ?? []).forEach((p, i) => {
    if (projections.has(p.name))
      throw appError(file, `projections[${i}]: a second projection named ${p.name}`);
    p.topics.forEach((t, j) => {
      if (!catalog.topic(t)) {
        const declared = catalog.topics.map((x) => x.name).join(', ');
        throw appError(
          file,
          `projections[${i}].topics[${j}]: topic ${JSON.stringify(t)} is not declared (declared: ${declared})`,
        );
      }
      if (catalog.topic(t)!.events.length === 0) {
        throw appError(file, `projections[${i}].topics[${j}]: topic ${t} carries no events to project`);
      }
    });
    projections.set(p.name, p as Projection);
  });
  const bridges = new Map<string, BridgeDefinition>();
  (def.bridges ?? []).forEach((b, i) => {
    if (bridges.has(b.name)) throw appError(file, `bridges[${i}]: a second bridge named ${b.name}`);
    const from = catalog.topic(b.from);
    if (!from) throw appError(file, `bridges[${i}].from: topic ${JSON.stringify(b.from)} is not declared`);
    if (from.events.length > 0) {
      throw appError(
        file,
        `bridges[${i}].from: topic ${b.from} carries events; a bridge reads a topic of other records`,
      );
    }
    if (!from.deadLetters) {
      throw appError(
        file,
        `bridges[${i}].from: topic ${b.from} has no dead-letter topic, where the bridge puts what it cannot upcast; declare it with deadLetters: true`,
      );
    }
    bridges.set(b.name, b);
  });
  return {
    name: def.name,
    bridges,
    file,
    root,
    catalog,
    projections,
    codegen: {
      schemaDir: path.resolve(root, def.schemas),
      outFile: path.resolve(root, def.codegen?.out ?? 'generated/events.ts'),
    },
    generator: def.generator,
    ingestRoutes: def.ingestRoutes,
  };
}
