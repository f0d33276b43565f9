/**
 * Checks of the deployment files against the programs they configure, run by
 * docker/deployment.test.ts. Each check returns the problems it found as sentences naming the file,
 * the service and the variable, so a failing test says what to fix. Pure functions of file texts.
 */
import { validate } from 'dockerfile-utils';
import { parse, parseAllDocuments } from 'yaml';

export type Accepted = ReadonlyMap<string, (name: string) => boolean>;

type EnvBlock = Record<string, unknown> | readonly string[] | undefined;

/** The names an `environment:` block sets (map form or `- NAME=value` list form). */
export function environmentNames(block: EnvBlock): string[] {
  if (block === undefined || block === null) return [];
  if (Array.isArray(block)) return block.map((entry) => String(entry).split('=')[0]!.trim());
  return Object.keys(block);
}

/** `${NAME}`, `${NAME:-default}`, `${NAME:?message}`, `${NAME-default}` ... in compose text. */
export function interpolatedNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const m of text.matchAll(/(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)/g)) names.add(m[1]!);
  return names;
}

/** `NAME=value` lines of an env file, and `# NAME=value` lines (documented but not set). */
export function envFileNames(text: string): { set: Set<string>; commented: Set<string> } {
  const set = new Set<string>();
  const commented = new Set<string>();
  for (const line of text.split('\n')) {
    const active = /^([A-Za-z_][A-Za-z0-9_]*)=/.exec(line);
    if (active) set.add(active[1]!);
    const documented = /^#\s*([A-Z_][A-Z0-9_]*)=/.exec(line);
    if (documented) commented.add(documented[1]!);
  }
  return { set, commented };
}

interface ComposeService {
  readonly environment?: EnvBlock;
  readonly image?: string;
  readonly build?: { readonly context?: string; readonly dockerfile?: string };
  readonly profiles?: readonly string[];
  readonly deploy?: {
    readonly replicas?: unknown;
    readonly resources?: {
      readonly reservations?: { readonly devices?: readonly Record<string, unknown>[] };
    };
  };
}

export interface Compose {
  readonly services: Record<string, ComposeService>;
}

export function parseCompose(text: string): Compose {
  // Compose resolves YAML merge keys (`<<: *worker`); so does this parse.
  const doc = parse(text, { merge: true }) as Compose | null;
  if (!doc || typeof doc.services !== 'object') throw new Error('compose.yaml has no services');
  return doc;
}

/** Every variable compose passes to a container is one the program in it reads. */
export function checkComposeEnvironment(compose: Compose, accepted: Accepted): string[] {
  const problems: string[] = [];
  for (const [service, definition] of Object.entries(compose.services)) {
    const reads = accepted.get(service);
    if (!reads) {
      problems.push(`compose.yaml: service ${service} has no known list of accepted variables`);
      continue;
    }
    for (const name of environmentNames(definition.environment)) {
      if (!reads(name)) {
        problems.push(
          `compose.yaml passes ${name} to ${service}, which its configuration does not read`,
        );
      }
    }
  }
  return problems;
}

/**
 * .env.example lists every variable compose.yaml interpolates, and nothing else: an active line
 * for each, or a commented one for a name in `pending` (documented before the program reads it).
 */
export function checkEnvExample(
  composeText: string,
  envExampleText: string,
  pending: (name: string) => boolean,
): string[] {
  const problems: string[] = [];
  const used = interpolatedNames(composeText);
  const { set, commented } = envFileNames(envExampleText);
  for (const name of used) {
    if (!set.has(name)) problems.push(`.env.example does not list ${name}, used by compose.yaml`);
  }
  for (const name of set) {
    // COMPOSE_PROFILES is read by compose itself.
    if (!used.has(name) && name !== 'COMPOSE_PROFILES') {
      problems.push(`.env.example lists ${name}, which compose.yaml never uses`);
    }
  }
  for (const name of commented) {
    if (!pending(name)) {
      problems.push(`.env.example documents ${name} (commented), which nothing reads`);
    }
  }
  return problems;
}

/** A variable documented ahead of its program must be passed by compose once the program reads it. */
export function checkPending(
  compose: Compose,
  service: string,
  reads: (name: string) => boolean,
  pendingNames: readonly string[],
): string[] {
  const passed = new Set(environmentNames(compose.services[service]?.environment));
  return pendingNames
    .filter((name) => reads(name) && !passed.has(name))
    .map(
      (name) =>
        `${service} now reads ${name}: pass it in compose.yaml, uncomment it in .env.example and drop it from the pending list`,
    );
}

/** Kubernetes manifests: every `env` name and ConfigMap key given to a container is read by it. */
export function checkKubernetesEnvironment(
  manifests: Record<string, string>,
  acceptedByContainer: Accepted,
): string[] {
  const problems: string[] = [];
  const docs = Object.entries(manifests).flatMap(([file, text]) =>
    parseAllDocuments(text).map((d) => ({ file, value: d.toJS() as K8sObject | null })),
  );
  const configMaps = new Map<string, string[]>();
  for (const { value } of docs) {
    if (value?.kind === 'ConfigMap' || value?.kind === 'Secret') {
      const keys = [...Object.keys(value.data ?? {}), ...Object.keys(value.stringData ?? {})];
      configMaps.set(`${value.kind}/${value.metadata?.name}`, keys);
    }
  }
  for (const { file, value } of docs) {
    if (value?.kind !== 'Deployment') continue;
    for (const container of value.spec?.template?.spec?.containers ?? []) {
      const reads = acceptedByContainer.get(container.name);
      if (!reads) {
        problems.push(
          `${file}: container ${container.name} has no known list of accepted variables`,
        );
        continue;
      }
      const names = (container.env ?? []).map((e) => ({ name: e.name, from: '' }));
      for (const source of container.envFrom ?? []) {
        const ref = source.configMapRef
          ? `ConfigMap/${source.configMapRef.name}`
          : `Secret/${source.secretRef?.name}`;
        const keys = configMaps.get(ref);
        if (!keys) problems.push(`${file}: ${container.name} reads ${ref}, which is not defined`);
        names.push(...(keys ?? []).map((name) => ({ name, from: ` (from ${ref})` })));
      }
      for (const { name, from } of names) {
        if (!reads(name)) {
          problems.push(
            `${file}: ${container.name} gets ${name}${from}, which its configuration does not read`,
          );
        }
      }
    }
  }
  return problems;
}

interface K8sContainer {
  readonly name: string;
  readonly env?: readonly { readonly name: string }[];
  readonly envFrom?: readonly {
    readonly configMapRef?: { readonly name: string };
    readonly secretRef?: { readonly name: string };
  }[];
}

interface K8sObject {
  readonly kind?: string;
  readonly metadata?: { readonly name?: string };
  readonly data?: Record<string, unknown>;
  readonly stringData?: Record<string, unknown>;
  readonly spec?: {
    readonly template?: { readonly spec?: { readonly containers?: K8sContainer[] } };
  };
}

/** A Dockerfile's instructions, continuation lines joined, comments dropped. */
export function dockerInstructions(text: string): { keyword: string; args: string }[] {
  const joined = text.replace(/\\\n/g, ' ');
  return joined
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => {
      const [keyword = '', ...rest] = line.split(/\s+/);
      return { keyword: keyword.toUpperCase(), args: rest.join(' ') };
    });
}

const OCI_LABELS = ['title', 'description', 'source', 'version', 'revision'].map(
  (k) => `org.opencontainers.image.${k}`,
);

/**
 * A Dockerfile passes dockerfile-utils' linter, pins every base image by version, builds in
 * stages when asked, ends as a non-root user, has a health check and the OCI labels, and copies
 * only files that exist in the repository.
 */
export function checkDockerfile(
  file: string,
  text: string,
  options: { readonly multiStage: boolean; readonly exists: (repoPath: string) => boolean },
): string[] {
  const problems = validate(text).map(
    (d) => `${file}:${d.range.start.line + 1}: ${d.message} (dockerfile-utils)`,
  );
  const instructions = dockerInstructions(text);
  const argDefaults = new Map<string, string>();
  const stages = new Set<string>();
  let froms = 0;
  for (const { keyword, args } of instructions) {
    if (keyword === 'ARG' && froms === 0) {
      const [name, value] = args.split('=');
      if (name && value) argDefaults.set(name, value);
    }
    if (keyword !== 'FROM') continue;
    froms += 1;
    const [imageRef = '', , alias] = args.replace(/^--platform=\S+\s+/, '').split(/\s+/);
    const image = imageRef.replace(/\$\{(\w+)\}/g, (_, n: string) => argDefaults.get(n) ?? '');
    if (!stages.has(image)) {
      const tag = /:([^/:@]+)$/.exec(image)?.[1];
      if (!tag || tag === 'latest' || !/\d/.test(tag)) {
        problems.push(`${file}: base image ${imageRef} (${image}) is not pinned to a version`);
      }
    }
    if (alias) stages.add(alias);
  }
  if (options.multiStage && froms < 2) problems.push(`${file}: not a multi-stage build`);
  const users = instructions.filter((i) => i.keyword === 'USER').map((i) => i.args);
  const lastUser = users.at(-1);
  if (!lastUser || /^(root|0)(:|$)/.test(lastUser)) {
    problems.push(`${file}: the image runs as root (no USER, or USER root last)`);
  }
  if (!instructions.some((i) => i.keyword === 'HEALTHCHECK' && !/^NONE\b/i.test(i.args))) {
    problems.push(`${file}: no HEALTHCHECK`);
  }
  const labels = instructions
    .filter((i) => i.keyword === 'LABEL')
    .map((i) => i.args)
    .join(' ');
  for (const label of OCI_LABELS) {
    if (!labels.includes(`${label}=`)) problems.push(`${file}: no ${label} label`);
  }
  for (const { keyword, args } of instructions) {
    if ((keyword !== 'COPY' && keyword !== 'ADD') || /--from=/.test(args)) continue;
    const parts = args.split(/\s+/).filter((p) => !p.startsWith('--'));
    for (const source of parts.slice(0, -1)) {
      if (source !== '.' && !options.exists(source)) {
        problems.push(`${file}: COPY source ${source} does not exist in the repository`);
      }
    }
  }
  return problems;
}
