/**
 * Every public symbol (what `duet-tf` and `duet-tf/device` export) carries TSDoc with an
 * `@example`, as the project promises. Read with the TypeScript compiler API.
 */
import * as ts from 'typescript';
import { describe, expect, it } from 'vitest';

function undocumented(entry: string): string[] {
  const program = ts.createProgram([entry], { strict: true, target: ts.ScriptTarget.ES2020, module: ts.ModuleKind.ESNext, moduleResolution: ts.ModuleResolutionKind.Bundler, skipLibCheck: true, noEmit: true });
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(entry);
  if (source === undefined) throw new Error(`cannot read ${entry}`);
  const moduleSymbol = checker.getSymbolAtLocation(source);
  const missing: string[] = [];
  for (const exported of checker.getExportsOfModule(moduleSymbol!)) {
    const symbol = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
    const declarations = symbol.getDeclarations() ?? [];
    // Types and interfaces document themselves through their fields; values need an example.
    const isValue = declarations.some((d) => ts.isFunctionDeclaration(d) || ts.isClassDeclaration(d) || ts.isVariableDeclaration(d));
    const tags = declarations.flatMap((d) => ts.getJSDocTags(ts.isVariableDeclaration(d) ? d.parent.parent : d));
    const docs = declarations.flatMap((d) => ts.getJSDocCommentsAndTags(ts.isVariableDeclaration(d) ? d.parent.parent : d));
    if (docs.length === 0) missing.push(`${exported.name}: no TSDoc`);
    else if (isValue && !tags.some((t) => t.tagName.text === 'example')) missing.push(`${exported.name}: no @example`);
  }
  return missing;
}

describe('public API documentation', () => {
  it('documents every export of duet-tf, with an example on every function, class and constant', () => {
    expect(undocumented('src/index.ts')).toEqual([]);
  });

  it('documents every export of duet-tf/device likewise', () => {
    expect(undocumented('src/device/index.ts')).toEqual([]);
  });
});
