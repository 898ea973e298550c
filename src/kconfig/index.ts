/**
 * The Kconfig reader: parse a kernel tree's Kconfig for one arch, evaluate it against a
 * .config, explain any symbol's value. See docs/adr/0010-kconfig-reader.md.
 */
export type { Expr, KconfigModel, Loc, MenuNode, Prop, Sym, SymType, Tri } from "./ast.js";
export { exprToString, triName } from "./ast.js";
export { parseKconfig, menuPath, symbolMenuPath, type FileReader, type ParseOptions } from "./parser.js";
export { Macros, UNKNOWN, isUnknown, type MacroHost } from "./macro.js";
export { Evaluation, evaluate, inferChecks, validUserValue, invalidValueReason, type EvalInput } from "./eval.js";
export { parseDotConfig, dotConfigLines, formatConfigLine, writeDotConfig, type ReadOptions } from "./dotconfig.js";
export { explain, explainRequest, type Explanation, type Reason, type RequestedValue, type RequestExplanation } from "./explain.js";
export { writeDefconfig, defaultString } from "./defconfig.js";
export { newSymbols, type NewSymbol } from "./newsyms.js";
export { loadKconfig, type LoadOptions } from "./load.js";
