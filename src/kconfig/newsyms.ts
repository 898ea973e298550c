/**
 * New symbols after a version bump: what `make listnewconfig` / `helpnewconfig` print for a
 * .config written by an older tree (kconfig's check_conf). Pure.
 */
import type { MenuNode, Sym } from "./ast.js";
import type { Evaluation } from "./eval.js";
import { menuPath } from "./parser.js";

export interface NewSymbol {
  /** CONFIG_ name. */
  symbol: string;
  /** The value kconfig will give it (its default in this configuration). */
  value: string;
  /** The line listnewconfig prints, e.g. `CONFIG_FOO=n` or `CONFIG_BAR="x"`. */
  line: string;
  help: string;
  menuPath: string[];
}

/**
 * Symbols a user could set that have no value in the input (`ev.input.user`), in menu order,
 * each once: the list `make listnewconfig` prints after reading that .config.
 * kconfig's check_conf prints once per menu entry, so a symbol defined by a file that is
 * sourced twice (6.1's Documentation/Kconfig: WARN_MISSING_DOCUMENTS) is printed twice;
 * `{ perEntry: true }` reproduces that output exactly, the default lists each symbol once
 * (what `kiln config new-symbols` needs: one pending file per symbol).
 */
export function newSymbols(ev: Evaluation, opts: { perEntry?: boolean } = {}): NewSymbol[] {
  const children = displayTree(ev.model.root);
  const out: NewSymbol[] = [];
  const seen = new Set<Sym>();
  const visit = (n: MenuNode): void => {
    if (!menuVisible(ev, n, children)) return;
    const s = n.sym;
    if (s && !s.isChoice && (opts.perEntry || !seen.has(s)) && ev.userValue(s) === undefined && ev.visibility(s) > ev.revDep(s)) {
      seen.add(s);
      const value = ev.value(s);
      const line = s.type === "string" ? `CONFIG_${s.name}="${value.replace(/(["\\])/g, "\\$1")}"` : `CONFIG_${s.name}=${value}`;
      out.push({ symbol: `CONFIG_${s.name}`, value, line, help: n.help ?? "", menuPath: menuPath(n) });
    }
    for (const c of children.get(n) ?? []) visit(c);
  };
  for (const c of children.get(ev.model.root) ?? []) visit(c);
  return out;
}

/** The menu tree kconfig walks: `if` blocks flattened, implicit submenus under their symbol. */
function displayTree(root: MenuNode): Map<MenuNode, MenuNode[]> {
  const children = new Map<MenuNode, MenuNode[]>();
  const walk = (n: MenuNode): void => {
    for (const c of n.children) {
      if (c.kind !== "if") {
        const p = c.menuParent ?? n;
        const l = children.get(p) ?? [];
        l.push(c);
        children.set(p, l);
      }
      walk(c);
    }
  };
  walk(root);
  return children;
}

/** kconfig's menu_is_visible. */
function menuVisible(ev: Evaluation, n: MenuNode, children: Map<MenuNode, MenuNode[]>): boolean {
  if (!n.prompt) return false;
  if (n.visibility && ev.expr(n.visibility) === 0) return false;
  if (ev.expr(n.prompt.visible) !== 0) return true;
  if (!n.sym || ev.tri(n.sym) === 0) return false;
  return (children.get(n) ?? []).some((c) => menuVisible(ev, c, children));
}
