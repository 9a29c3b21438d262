/**
 * The Java distributions the local stack runs, resolved from Maven Central by
 * `infra/maven/pom.xml` into `TRIBUTARY_DIST_DIR` (default `.tributary/dist`). Versions are pinned in that pom only.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ErrorCodes, TributaryError } from '../../lib/errors.js';

/** The repository root (works from sources and from the compiled `dist/`). */
export function repoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'infra', 'maven', 'pom.xml'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('cannot find the repository root (infra/maven/pom.xml)');
    dir = parent;
  }
  return dir;
}

export function pomFile(): string {
  return path.join(repoRoot(), 'infra', 'maven', 'pom.xml');
}

export interface StackVersions {
  readonly kafka: string;
  readonly apicurio: string;
}

/** Reads the pinned versions from the pom's `<properties>`. */
export function stackVersions(pom = pomFile()): StackVersions {
  const xml = readFileSync(pom, 'utf8');
  const prop = (name: string): string => {
    const m = new RegExp(`<${name.replaceAll('.', '\\.')}>([^<]+)</`).exec(xml);
    if (!m?.[1]) throw new Error(`${pom} has no <${name}> property`);
    return m[1].trim();
  };
  return { kafka: prop('kafka.version'), apicurio: prop('apicurio.version') };
}

export interface Distributions {
  readonly kafkaLibs: string;
  readonly apicurioHome: string;
  readonly versions: StackVersions;
}

export function distributions(distDir: string): Distributions {
  const versions = stackVersions();
  return {
    kafkaLibs: path.join(distDir, `kafka-${versions.kafka}`, 'libs'),
    apicurioHome: path.join(distDir, `apicurio-${versions.apicurio}`),
    versions,
  };
}

/** True when the Kafka jars and the registry app are present. */
export function distributionsPresent(d: Distributions): boolean {
  return (
    existsSync(path.join(d.kafkaLibs, `kafka_2.13-${d.versions.kafka}.jar`)) &&
    existsSync(path.join(d.apicurioHome, 'quarkus-run.jar'))
  );
}

/** Runs Maven to resolve the distributions if they are missing. */
export function ensureDistributions(distDir: string): Distributions {
  const d = distributions(distDir);
  if (distributionsPresent(d)) return d;
  const mvn = spawnSync('mvn', ['-B', '-q', '-f', pomFile(), 'package', `-Dtributary.dist=${distDir}`], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (mvn.error || mvn.status !== 0 || !distributionsPresent(d)) {
    throw new TributaryError(
      ErrorCodes.STACK_DIST_MISSING,
      `could not resolve Kafka ${d.versions.kafka} / Apicurio ${d.versions.apicurio} with Maven ` +
        `(mvn ${mvn.error ? mvn.error.message : `exit ${mvn.status}`}); run \`bash infra/bootstrap.sh deps\``,
      { cause: mvn.error },
    );
  }
  return d;
}

/** The major version a `java` binary reports, or undefined if it does not run. */
export function javaMajor(javaBin: string): number | undefined {
  // `java -version` prints to stderr.
  const out = spawnSync(javaBin, ['-version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (out.error) return undefined;
  return parseJavaVersion(`${out.stderr}${out.stdout}`);
}

/** Parses `java -version` output ("17.0.15", "25", "1.8.0_392") into a major version. */
export function parseJavaVersion(text: string): number | undefined {
  const m = /version "(\d+)(?:\.(\d+))?/.exec(text);
  if (!m?.[1]) return undefined;
  const first = Number(m[1]);
  return first === 1 && m[2] ? Number(m[2]) : first;
}

/**
 * Finds a `java` binary of at least `minMajor`: the explicit home first, then JAVA_HOME, then
 * `java` on the PATH, then every JDK under /usr/lib/jvm (newest first).
 */
export function findJava(minMajor: number, explicitHome?: string): string | undefined {
  const candidates: string[] = [];
  if (explicitHome) candidates.push(path.join(explicitHome, 'bin', 'java'));
  if (process.env.JAVA_HOME) candidates.push(path.join(process.env.JAVA_HOME, 'bin', 'java'));
  candidates.push('java');
  if (existsSync('/usr/lib/jvm')) {
    for (const entry of readdirSync('/usr/lib/jvm').sort().reverse()) {
      const bin = path.join('/usr/lib/jvm', entry, 'bin', 'java');
      if (existsSync(bin)) candidates.push(bin);
    }
  }
  for (const bin of candidates) {
    const major = javaMajor(bin);
    if (major !== undefined && major >= minMajor) return bin;
  }
  return undefined;
}
