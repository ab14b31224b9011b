import { join } from 'node:path';
import ts from 'typescript';
import { REPO, type Manifest } from './k8s-manifests.js';

/**
 * kubernetes-models' JSON-schema validation accepts unknown fields, so a misspelled key
 * (`readinesProbe`) would pass silently. Its TypeScript declarations do not: each manifest becomes
 * a typed object literal, and the compiler's excess-property check names every unknown field.
 * The source lives only in memory, placed in test/deploy so module resolution finds node_modules.
 */
export function typeProblems(manifests: Manifest[]): string[] {
  const virtualPath = join(REPO, 'test/deploy/__k8s_manifests__.ts');
  const imports = new Map<string, string>();
  const decls: { label: string; text: string }[] = [];
  manifests.forEach((m, i) => {
    const type = `I${m.doc.kind}`;
    const alias = `${type}_${imports.size}`;
    const key = `${m.doc.apiVersion}/${m.doc.kind}`;
    if (!imports.has(key)) imports.set(key, alias);
    decls.push({ label: `${m.file}: ${m.doc.kind}/${m.doc.metadata?.name ?? '?'}`, text: `export const doc${i}: ${imports.get(key)} = ${JSON.stringify(m.doc, null, 2)};\n` });
  });
  let source = '';
  for (const [key, alias] of imports) {
    const kind = key.slice(key.lastIndexOf('/') + 1);
    source += `import type { I${kind} as ${alias} } from 'kubernetes-models/${key}';\n`;
  }
  const starts: { at: number; label: string }[] = [];
  for (const d of decls) {
    starts.push({ at: source.length, label: d.label });
    source += d.text;
  }

  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    types: [],
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (file, languageVersion, ...rest) =>
    file === virtualPath ? ts.createSourceFile(file, source, languageVersion) : getSourceFile(file, languageVersion, ...rest);
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (file) => file === virtualPath || fileExists(file);
  const readFile = host.readFile.bind(host);
  host.readFile = (file) => (file === virtualPath ? source : readFile(file));

  const program = ts.createProgram([virtualPath], options, host);
  const diagnostics = [...program.getSyntacticDiagnostics(), ...program.getSemanticDiagnostics()].filter((d) => d.file?.fileName === virtualPath || !d.file);
  return diagnostics.map((d) => {
    const at = d.start ?? 0;
    const owner = [...starts].reverse().find((s) => s.at <= at);
    return `${owner?.label ?? 'imports'}: ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`;
  });
}
