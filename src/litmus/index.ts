// The litmus front end: parse, validate, print. See docs/litmus.md for the format.

export type * from './ast.js';
export { Diagnostic } from './diagnostic.js';
export { parseLitmus, type ParseResult } from './parse.js';
export { printTest, printOp, printCond, printFinal, printExpr, observableName } from './print.js';
export { checkFiles, type FileCheck } from './check.js';
