import t from 'tap';
import { K8S_DIR, loadKustomization, schemaProblem, semanticProblems, type Manifest } from './k8s-manifests.js';
import { typeProblems } from './k8s-typecheck.js';

const { manifests, unlisted, missing } = loadKustomization(K8S_DIR);

t.test('kustomization lists every manifest and only existing files', async (t) => {
  t.same(missing, [], 'resources that do not exist');
  t.same(unlisted, [], 'YAML files kustomize would not apply');
  t.same(manifests.map((m) => m.doc.kind).sort(), ['ConfigMap', 'Deployment', 'HorizontalPodAutoscaler', 'PodDisruptionBudget', 'Service']);
});

t.test('every manifest validates against the Kubernetes schema (kubernetes-models)', async (t) => {
  for (const m of manifests) t.equal(await schemaProblem(m), null, `${m.file} ${m.doc.kind}`);
});

t.test('no unknown fields (kubernetes-models type declarations)', async (t) => {
  t.same(typeProblems(manifests), []);
});

t.test('semantic checks pass', async (t) => {
  t.same(semanticProblems(manifests), []);
});

/** A deep copy of the manifests with one change applied to the first document of `kind`. */
function mutated(kind: string, change: (doc: any) => void): Manifest[] {
  const copy = structuredClone(manifests);
  const target = copy.find((m) => m.doc.kind === kind);
  if (!target) throw new Error(`no ${kind}`);
  change(target.doc);
  return copy;
}

const server = (doc: any) => doc.spec.template.spec.containers.find((c: any) => c.name === 'nnserve');

// Each check must be able to fail; otherwise "no problems" above proves nothing.
t.test('the checks catch broken manifests', async (t) => {
  const cases: [string, Manifest[], RegExp][] = [
    ['selector mismatch', mutated('Deployment', (d) => (d.spec.selector.matchLabels['app.kubernetes.io/name'] = 'other')), /selector.matchLabels does not match/],
    ['probe on a port that does not exist', mutated('Deployment', (d) => (server(d).readinessProbe.httpGet.port = 'metrics')), /readinessProbe port metrics is not a port/],
    ['missing ConfigMap', mutated('ConfigMap', (d) => (d.metadata.name = 'renamed')), /envFrom ConfigMap nnserve-config does not exist/],
    ['settings in a plain ConfigMap', manifests.map((m) => (m.doc.kind === 'ConfigMap' ? { ...m, origin: 'resource' as const } : m)), /reads ConfigMap nnserve-config into its environment, but it is a plain resource/],
    ['Service targetPort that does not exist', mutated('Service', (d) => (d.spec.ports[0].targetPort = 'web')), /targetPort web is not a port/],
    ['Service selecting nothing', mutated('Service', (d) => (d.spec.selector = { app: 'x' })), /selector matches no Deployment/],
    ['PDB selecting nothing', mutated('PodDisruptionBudget', (d) => (d.spec.selector.matchLabels = { app: 'x' })), /selector matches no Deployment/],
    ['replica count beside an HPA', mutated('Deployment', (d) => (d.spec.replicas = 2)), /spec\.replicas 2 fights HorizontalPodAutoscaler\/nnserve/],
    ['HPA targeting another Deployment', mutated('HorizontalPodAutoscaler', (d) => (d.spec.scaleTargetRef.name = 'x')), /scaleTargetRef Deployment\/x/],
    ['writable root filesystem', mutated('Deployment', (d) => (server(d).securityContext.readOnlyRootFilesystem = false)), /readOnlyRootFilesystem must be true/],
    ['capabilities kept', mutated('Deployment', (d) => delete server(d).securityContext.capabilities), /capabilities must drop ALL/],
    ['grace period too short', mutated('Deployment', (d) => (d.spec.template.spec.terminationGracePeriodSeconds = 20)), /must exceed preStop 5 s \+ shutdown grace 20 s/],
    ['no /tmp mount', mutated('Deployment', (d) => (server(d).volumeMounts = server(d).volumeMounts.filter((v: any) => v.mountPath !== '/tmp'))), /\/tmp is not mounted/],
    ['sidecar without --interval', mutated('Deployment', (d) => (d.spec.template.spec.containers[1].args = ['$(NNSERVE_FETCH_URL)', '--dir', '/indexes'])), /sidecar fetch needs --interval/],
    ['fetch into another directory', mutated('Deployment', (d) => (d.spec.template.spec.initContainers[0].args[2] = '/data')), /fetch --dir \/data is not the server's index volume/],
    ['undefined $(VAR)', mutated('Deployment', (d) => (d.spec.template.spec.initContainers[0].args[0] = '$(NNSERVE_FETCH_BASE)')), /\$\(NNSERVE_FETCH_BASE\) is not defined/],
    ['latest image', mutated('Deployment', (d) => (server(d).image = 'nnserve:latest')), /needs a fixed tag/],
  ];
  for (const [name, docs, pattern] of cases) t.match(semanticProblems(docs).join('\n'), pattern, name);

  const badSchema = mutated('Deployment', (d) => (server(d).ports[0].containerPort = '8080'));
  t.match(await schemaProblem(badSchema.find((m) => m.doc.kind === 'Deployment')!), /containerPort must be integer/, 'schema: wrong type');
  t.match(await schemaProblem({ file: 'x.yaml', doc: { apiVersion: 'extensions/v1beta1', kind: 'Deployment' } }), /pre-GA API version/, 'schema: removed beta API');
  t.match(await schemaProblem({ file: 'x.yaml', doc: { apiVersion: 'apps/v1', kind: 'Deplyoment' } }), /not a known Kubernetes API/, 'schema: unknown kind');

  const misspelled = mutated('Deployment', (d) => {
    server(d).readinesProbe = server(d).readinessProbe;
    delete server(d).readinessProbe;
  });
  t.match(typeProblems(misspelled).join('\n'), /deployment\.yaml: Deployment\/nnserve: .*readinesProbe.* does not exist/, 'types: unknown field');
});
