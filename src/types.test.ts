/**
 * Public types are reachable: walks the built declarations (dist/*.d.ts) of each entry with the
 * TypeScript compiler API and lists every pathlens type that an exported declaration mentions
 * (parameter, return, property, base class, type argument) but the entry does not export. A
 * consumer could not name such a type (`SignificanceOptions`, `EigPath`, …) in their own code.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import ts from "typescript";
import { ROOT } from "./testing/cli.js";

const DIST = join(ROOT, "dist");

function unexportedReferences(entry: string): string[] {
  const file = join(DIST, entry);
  const program = ts.createProgram([file], {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    strict: true,
    noEmit: true,
  });
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(file)!;
  const moduleSymbol = checker.getSymbolAtLocation(source)!;
  const resolve = (s: ts.Symbol) => (s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s);
  const exported = new Set(checker.getExportsOfModule(moduleSymbol).map(resolve));
  const missing = new Set<string>();
  const inDist = (s: ts.Symbol) =>
    (s.declarations ?? []).some((d) => d.getSourceFile().fileName.startsWith(DIST));
  const check = (symbol: ts.Symbol | undefined, from: string) => {
    if (!symbol) return;
    const s = resolve(symbol);
    if (s.flags & ts.SymbolFlags.TypeParameter) return;
    if (!(s.flags & (ts.SymbolFlags.Type | ts.SymbolFlags.Class | ts.SymbolFlags.Enum))) return;
    if (inDist(s) && !exported.has(s)) missing.add(`${s.getName()} (used by ${from})`);
  };
  const visit = (node: ts.Node, from: string) => {
    // private members are not part of the public surface
    if (
      ts.canHaveModifiers(node) &&
      ts.getModifiers(node)?.some((m) => m.kind === ts.SyntaxKind.PrivateKeyword)
    )
      return;
    if (ts.isTypeReferenceNode(node)) check(checker.getSymbolAtLocation(node.typeName), from);
    else if (ts.isExpressionWithTypeArguments(node))
      check(checker.getSymbolAtLocation(node.expression), from);
    else if (ts.isImportTypeNode(node)) {
      const t = checker.getTypeFromTypeNode(node);
      check(t.aliasSymbol ?? t.getSymbol(), from);
    } else if (ts.isTypeQueryNode(node)) check(checker.getSymbolAtLocation(node.exprName), from);
    ts.forEachChild(node, (child) => visit(child, from));
  };
  for (const s of exported)
    for (const d of s.declarations ?? [])
      if (d.getSourceFile().fileName.startsWith(DIST)) visit(d, s.getName());
  return [...missing].sort();
}

for (const entry of ["index.d.ts", "node.d.ts", "web.d.ts"]) {
  test(`dist/${entry}: every pathlens type in an exported signature is exported too`, {
    skip: !existsSync(join(DIST, entry)) && "dist/ not built (npm test builds it)",
  }, () => {
    assert.deepEqual(unexportedReferences(entry), []);
  });
}
