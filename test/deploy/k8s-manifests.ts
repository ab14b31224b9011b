import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import type { IHorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import type { IPodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import type { IIoK8sApiCoreV1Container as Container } from 'kubernetes-models/v1/Container';
import type { IService } from 'kubernetes-models/v1/Service';
import { parseAllDocuments } from 'yaml';

export const REPO = new URL('../../../', import.meta.url).pathname;
export const K8S_DIR = join(REPO, 'deploy/kubernetes');

export interface Manifest {
  file: string;
  doc: { apiVersion: string; kind: string; metadata?: { name?: string } } & Record<string, unknown>;
  /** How the kustomization makes it: listed under resources, or by configMapGenerator. Unknown for rendered output. */
  origin?: 'resource' | 'generator';
}

/** Every document of a multi-document YAML text; YAML syntax errors are thrown with the file name. */
export function parseManifests(file: string, text: string): Manifest[] {
  const out: Manifest[] = [];
  for (const document of parseAllDocuments(text)) {
    if (document.errors.length > 0) throw new Error(`${file}: ${document.errors[0].message}`);
    const doc = document.toJS() as Manifest['doc'] | null;
    if (doc !== null) out.push({ file, doc });
  }
  return out;
}

interface ConfigMapGenerator {
  name: string;
  envs?: string[];
  literals?: string[];
  options?: { labels?: Record<string, string> };
}

/**
 * `KEY=value` pairs as kustomize reads an env file or a literal: blank lines and `#` comments are
 * skipped, the value is everything after the first `=`.
 */
function envPairs(lines: string[]): [string, string][] {
  return lines
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#') && line.includes('='))
    .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]);
}

/** The ConfigMap a configMapGenerator entry makes, under its unhashed name (references use that name too). */
function generatedConfigMap(dir: string, generator: ConfigMapGenerator): Manifest {
  const lines = [...(generator.envs ?? []).flatMap((file) => readFileSync(join(dir, file), 'utf8').split('\n')), ...(generator.literals ?? [])];
  const metadata = { name: generator.name, ...(generator.options?.labels ? { labels: generator.options.labels } : {}) };
  return { file: 'kustomization.yaml', origin: 'generator', doc: { apiVersion: 'v1', kind: 'ConfigMap', metadata, data: Object.fromEntries(envPairs(lines)) } };
}

/**
 * The resources a kustomization lists, in order, then the ConfigMaps it generates; the YAML files in
 * the directory it does not list; the files it names that do not exist.
 */
export function loadKustomization(dir: string): { manifests: Manifest[]; unlisted: string[]; missing: string[] } {
  const kustomization = parseManifests('kustomization.yaml', readFileSync(join(dir, 'kustomization.yaml'), 'utf8'))[0].doc as { resources?: string[]; configMapGenerator?: ConfigMapGenerator[] };
  const resources = kustomization.resources ?? [];
  const generators = kustomization.configMapGenerator ?? [];
  const missing = [...resources, ...generators.flatMap((g) => g.envs ?? [])].filter((r) => !existsSync(join(dir, r)));
  const listed = resources.filter((r) => !missing.includes(r)).flatMap((r) => parseManifests(r, readFileSync(join(dir, r), 'utf8')).map((m): Manifest => ({ ...m, origin: 'resource' })));
  const generated = generators.filter((g) => !(g.envs ?? []).some((file) => missing.includes(file))).map((g) => generatedConfigMap(dir, g));
  const unlisted = readdirSync(dir).filter((f) => /\.ya?ml$/.test(f) && f !== 'kustomization.yaml' && !resources.includes(f));
  return { manifests: [...listed, ...generated], unlisted, missing };
}

type ModelClass = new (data: unknown) => { validate(): void };

/**
 * Schema validation with the kubernetes-models class for the document's apiVersion and kind
 * (apps/v1 Deployment → kubernetes-models/apps/v1/Deployment). Returns the problem or null.
 */
export async function schemaProblem(m: Manifest): Promise<string | null> {
  const { apiVersion, kind } = m.doc;
  if (typeof apiVersion !== 'string' || typeof kind !== 'string') return `${m.file}: apiVersion and kind are required`;
  // The package keeps old beta APIs that current clusters have removed (extensions/v1beta1, policy/v1beta1 …).
  if (/\/v\d+(alpha|beta)\d+$/.test(apiVersion)) return `${m.file}: ${apiVersion} ${kind}: pre-GA API version; use the GA one`;
  let model: ModelClass | undefined;
  try {
    const mod = (await import(`kubernetes-models/${apiVersion}/${kind}`)) as Record<string, ModelClass>;
    model = mod[kind];
  } catch {
    model = undefined;
  }
  if (!model) return `${m.file}: ${apiVersion} ${kind} is not a known Kubernetes API (removed or misspelled?)`;
  try {
    new model(m.doc).validate();
    return null;
  } catch (err) {
    return `${m.file}: ${kind}/${m.doc.metadata?.name ?? '?'}: ${(err as Error).message}`;
  }
}

const isKind = <T>(kind: string) => (m: Manifest): m is Manifest & { doc: T } => m.doc.kind === kind;

function labelsMatch(selector: Record<string, string> | undefined, labels: Record<string, string> | undefined): boolean {
  if (!selector || Object.keys(selector).length === 0) return false;
  return Object.entries(selector).every(([k, v]) => labels?.[k] === v);
}

function portExists(container: Container, port: number | string | undefined): boolean {
  if (port === undefined) return false;
  return (container.ports ?? []).some((p) => (typeof port === 'number' ? p.containerPort === port : p.name === port));
}

/** The value a container sees for an environment variable: its env, else the ConfigMaps of envFrom. */
function envValue(container: Container, name: string, configMaps: Map<string, IConfigMap>): string | undefined {
  const direct = container.env?.find((e) => e.name === name);
  if (direct) return direct.value ?? (direct.valueFrom?.configMapKeyRef ? configMaps.get(direct.valueFrom.configMapKeyRef.name ?? '')?.data?.[direct.valueFrom.configMapKeyRef.key] : undefined);
  for (const source of container.envFrom ?? []) {
    const value = configMaps.get(source.configMapRef?.name ?? '')?.data?.[name];
    if (value !== undefined) return value;
  }
  return undefined;
}

/** `--flag value` from a container's command + args, with $(VAR) expanded as the kubelet does. */
function argValue(args: string[], flag: string): string | undefined {
  const i = args.indexOf(flag);
  return i >= 0 ? args[i + 1] : undefined;
}

/**
 * Checks a schema cannot express: references between objects resolve, probes and Service target
 * real ports, the pod is locked down, and the nnserve specifics (probe paths, shutdown timing,
 * index delivery into the directory the server reads) hold. Returns one line per problem.
 */
export function semanticProblems(manifests: Manifest[]): string[] {
  const problems: string[] = [];
  const add = (m: Manifest, what: string) => problems.push(`${m.file}: ${m.doc.kind}/${m.doc.metadata?.name ?? '?'}: ${what}`);
  const configMaps = new Map(manifests.filter(isKind<IConfigMap>('ConfigMap')).map((m) => [m.doc.metadata?.name ?? '', m.doc]));
  const configMapOrigins = new Map(manifests.filter(isKind<IConfigMap>('ConfigMap')).map((m) => [m.doc.metadata?.name ?? '', m.origin]));
  const deployments = manifests.filter(isKind<IDeployment>('Deployment'));
  if (deployments.length === 0) problems.push('no Deployment found');

  for (const m of deployments) {
    const spec = m.doc.spec;
    const pod = spec?.template.spec;
    const podLabels = spec?.template.metadata?.labels;
    if (!spec || !pod) {
      add(m, 'no pod template');
      continue;
    }
    if (!labelsMatch(spec.selector.matchLabels, podLabels)) add(m, 'spec.selector.matchLabels does not match the pod template labels');
    if (pod.securityContext?.runAsNonRoot !== true) add(m, 'pod securityContext.runAsNonRoot must be true');
    if (pod.securityContext?.runAsUser === 0) add(m, 'pod runs as uid 0');
    const volumes = new Set((pod.volumes ?? []).map((v) => v.name));
    const mounted = new Set<string>();
    const containers = [...(pod.initContainers ?? []).map((c) => ({ c, init: true })), ...pod.containers.map((c) => ({ c, init: false }))];
    for (const { c, init } of containers) {
      const where = `container ${c.name}`;
      const sc = c.securityContext;
      if (sc?.readOnlyRootFilesystem !== true) add(m, `${where}: readOnlyRootFilesystem must be true`);
      if (sc?.allowPrivilegeEscalation !== false) add(m, `${where}: allowPrivilegeEscalation must be false`);
      if (!(sc?.capabilities?.drop ?? []).includes('ALL')) add(m, `${where}: capabilities must drop ALL`);
      if (!c.image || !/:[\w][\w.-]*$/.test(c.image.split('/').pop() ?? '') || c.image.endsWith(':latest')) add(m, `${where}: image ${c.image} needs a fixed tag`);
      if (!c.resources?.requests?.cpu || !c.resources?.requests?.memory) add(m, `${where}: needs cpu and memory requests (the HPA computes utilization from requests)`);
      if (!c.resources?.limits?.memory) add(m, `${where}: needs a memory limit`);
      for (const vm of c.volumeMounts ?? []) {
        mounted.add(vm.name);
        if (!volumes.has(vm.name)) add(m, `${where}: volumeMount ${vm.name} has no volume`);
      }
      for (const source of c.envFrom ?? []) {
        const name = source.configMapRef?.name;
        if (name !== undefined && !configMaps.has(name) && source.configMapRef?.optional !== true) add(m, `${where}: envFrom ConfigMap ${name} does not exist`);
      }
      for (const e of c.env ?? []) {
        const ref = e.valueFrom?.configMapKeyRef;
        if (ref && ref.optional !== true && configMaps.get(ref.name ?? '')?.data?.[ref.key] === undefined) add(m, `${where}: env ${e.name} refers to missing ConfigMap key ${ref.name}/${ref.key}`);
      }
      // Environment variables are read at container start: a ConfigMap edited in place restarts no
      // pod, and only pods started later (scale-up, eviction) get the new values.
      const envConfigMaps = new Set([...(c.envFrom ?? []).map((source) => source.configMapRef?.name), ...(c.env ?? []).map((e) => e.valueFrom?.configMapKeyRef?.name)]);
      for (const name of envConfigMaps) {
        const origin = name === undefined ? undefined : configMapOrigins.get(name);
        if (origin === 'resource') add(m, `${where}: reads ConfigMap ${name} into its environment, but it is a plain resource: a change would not roll the pods; generate it with configMapGenerator`);
      }
      const words = [...(c.command ?? []), ...(c.args ?? [])];
      for (const word of words) {
        for (const [, name] of word.matchAll(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g)) {
          if (envValue(c, name, configMaps) === undefined) add(m, `${where}: $(${name}) is not defined in its env or envFrom`);
        }
      }
      for (const [kind, probe] of [['startupProbe', c.startupProbe], ['readinessProbe', c.readinessProbe], ['livenessProbe', c.livenessProbe]] as const) {
        const port = probe?.httpGet?.port ?? probe?.tcpSocket?.port;
        if (probe && !portExists(c, port)) add(m, `${where}: ${kind} port ${String(port)} is not a port of the container`);
      }
      if (init && (c.startupProbe || c.readinessProbe || c.livenessProbe)) add(m, `${where}: init containers cannot have probes`);
    }
    for (const v of volumes) if (!mounted.has(v)) add(m, `volume ${v} is not mounted by any container`);

    // nnserve specifics.
    const server = pod.containers.find((c) => (c.ports ?? []).some((p) => p.containerPort === 8080));
    if (!server) {
      add(m, 'no container listens on 8080');
      continue;
    }
    if (server.livenessProbe?.httpGet?.path !== '/healthz') add(m, 'liveness must probe /healthz (event loop only)');
    if (server.readinessProbe?.httpGet?.path !== '/readyz') add(m, 'readiness must probe /readyz');
    const startup = server.startupProbe;
    if (!startup) add(m, 'a startupProbe is needed to cover the index load');
    else if ((startup.periodSeconds ?? 10) * (startup.failureThreshold ?? 3) < 120) add(m, 'startupProbe allows less than 2 minutes for the index load');
    if (server.securityContext?.readOnlyRootFilesystem && !(server.volumeMounts ?? []).some((vm) => vm.mountPath === '/tmp')) {
      add(m, 'read-only root filesystem but /tmp is not mounted (the service writes temp files there)');
    }
    const indexDir = envValue(server, 'NNSERVE_INDEX_DIR', configMaps) ?? '/indexes';
    const indexVolume = server.volumeMounts?.find((vm) => vm.mountPath === indexDir)?.name;
    if (!indexVolume) add(m, `${indexDir} (NNSERVE_INDEX_DIR) is not a mounted volume`);
    const preStopSleep = Number(server.lifecycle?.preStop?.exec?.command?.[0] === 'sleep' ? server.lifecycle.preStop.exec.command[1] : server.lifecycle?.preStop?.sleep?.seconds ?? NaN);
    if (!Number.isFinite(preStopSleep)) add(m, 'the server needs a preStop sleep so endpoints are removed before SIGTERM');
    const graceMs = Number(envValue(server, 'NNSERVE_SHUTDOWN_GRACE_MS', configMaps) ?? 10_000);
    const period = pod.terminationGracePeriodSeconds ?? 30;
    if (Number.isFinite(preStopSleep) && period <= preStopSleep + graceMs / 1000) {
      add(m, `terminationGracePeriodSeconds ${period} must exceed preStop ${preStopSleep} s + shutdown grace ${graceMs / 1000} s`);
    }
    // Index delivery: a one-shot fetch before the server starts, and a looping one beside it,
    // both writing into the volume the server reads.
    const isFetch = (c: Container) => [...(c.command ?? []), ...(c.args ?? [])].includes('fetch');
    const fetchInit = (pod.initContainers ?? []).filter(isFetch);
    const fetchSidecars = pod.containers.filter(isFetch);
    if (fetchInit.length === 0) add(m, 'no init container runs `nnserve fetch`');
    if (fetchSidecars.length === 0) add(m, 'no sidecar runs `nnserve fetch --interval`');
    for (const c of [...fetchInit, ...fetchSidecars]) {
      const args = [...(c.command ?? []), ...(c.args ?? [])];
      const dir = argValue(args, '--dir');
      const volume = c.volumeMounts?.find((vm) => vm.mountPath === dir)?.name;
      if (!dir || volume !== indexVolume) add(m, `container ${c.name}: fetch --dir ${dir} is not the server's index volume`);
      const interval = argValue(args, '--interval');
      if (fetchSidecars.includes(c) && interval === undefined) add(m, `container ${c.name}: a sidecar fetch needs --interval`);
      if (fetchInit.includes(c) && interval !== undefined) add(m, `container ${c.name}: an init container with --interval never finishes`);
    }

    const targets = (kind: string) => manifests.filter((x) => x.doc.kind === kind);
    for (const s of targets('Service') as (Manifest & { doc: IService })[]) {
      if (!labelsMatch(s.doc.spec?.selector, podLabels)) continue;
      for (const p of s.doc.spec?.ports ?? []) {
        if (!pod.containers.some((c) => portExists(c, p.targetPort ?? p.port))) add(s, `targetPort ${String(p.targetPort ?? p.port)} is not a port of the selected pods`);
      }
    }
  }

  for (const s of manifests.filter(isKind<IService>('Service'))) {
    if (!deployments.some((d) => labelsMatch(s.doc.spec?.selector, d.doc.spec?.template.metadata?.labels))) add(s, 'selector matches no Deployment pod template');
  }
  for (const p of manifests.filter(isKind<IPodDisruptionBudget>('PodDisruptionBudget'))) {
    if (!deployments.some((d) => labelsMatch(p.doc.spec?.selector?.matchLabels, d.doc.spec?.template.metadata?.labels))) add(p, 'selector matches no Deployment pod template');
  }
  for (const h of manifests.filter(isKind<IHorizontalPodAutoscaler>('HorizontalPodAutoscaler'))) {
    const ref = h.doc.spec?.scaleTargetRef;
    const target = deployments.find((d) => ref?.kind === 'Deployment' && ref.apiVersion === 'apps/v1' && d.doc.metadata?.name === ref.name);
    if (!target) add(h, `scaleTargetRef ${ref?.kind}/${ref?.name} is not a Deployment here`);
    // Each apply of the manifest would set the count back, scaling in the pods the HPA added.
    else if (target.doc.spec?.replicas !== undefined) add(target, `spec.replicas ${target.doc.spec.replicas} fights HorizontalPodAutoscaler/${h.doc.metadata?.name}: every apply resets the replica count; leave it out`);
    if ((h.doc.spec?.minReplicas ?? 1) > (h.doc.spec?.maxReplicas ?? 0)) add(h, 'minReplicas exceeds maxReplicas');
    for (const p of manifests.filter(isKind<IPodDisruptionBudget>('PodDisruptionBudget'))) {
      const minAvailable = p.doc.spec?.minAvailable;
      if (typeof minAvailable === 'number' && minAvailable >= (h.doc.spec?.minReplicas ?? 1)) add(h, `minReplicas leaves the PodDisruptionBudget ${p.doc.metadata?.name} no room: node drains would block`);
    }
  }
  return problems;
}
