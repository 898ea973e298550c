/**
 * savedefconfig: the minimal config that reproduces an evaluation (kconfig's
 * conf_write_defconfig and sym_get_string_default). Feeding the result back as input gives the
 * same .config; this is what `kiln config export` needs. Pure.
 */
import type { MenuNode, Sym, Tri } from "./ast.js";
import { formatConfigLine } from "./dotconfig.js";
import type { Evaluation } from "./eval.js";

/** The value a symbol would have with no user input, given every other symbol's current value. */
export function defaultString(ev: Evaluation, s: Sym): string {
  ev.visibility(s);
  const modulesOn = ev.model.modules ? ev.tri(ev.model.modules) !== 0 : false;
  let val: Tri = 0;
  let str = "";
  const p = ev.activeDefault(s);
  if (p) {
    if (s.type === "bool" || s.type === "tristate") {
      val = Math.min(ev.expr(p.expr), ev.expr(p.visible)) as Tri;
    } else if (p.expr?.t === "sym") {
      str = ev.value(p.expr.sym);
    }
  }
  val = Math.max(val, ev.revDep(s)) as Tri;
  if (val === 1 && !s.choice && !modulesOn) val = 2;
  if (s.type === "bool" && val === 1) val = 2;
  const imp = ev.impliedBy(s);
  if (val < imp) val = imp;
  switch (s.type) {
    case "bool":
    case "tristate":
      return val === 2 ? "y" : val === 1 ? "m" : "n";
    case "int":
      return str || "0";
    case "hex":
      return str || "0x0";
    default:
      return str;
  }
}

/** The lines `make savedefconfig` writes for this evaluation, in kconfig's order. */
export function writeDefconfig(ev: Evaluation): string {
  const legacy = ev.model.choiceModel === "legacy";
  const done = new Set<Sym>();
  let out = "";
  const walk = (n: MenuNode): void => {
    const s = n.sym;
    if (s && !s.isChoice && !done.has(s) && ev.written(s)) {
      done.add(s);
      const changeable = ev.visibility(s) > ev.revDep(s);
      const value = ev.value(s);
      let skip = !changeable || value === defaultString(ev, s);
      if (!skip && s.choice) {
        const cs = s.choice.sym as Sym;
        const ds = ev.choiceDefault(s.choice);
        if (ds === s && ev.tri(s) === 2 && (!legacy || (!cs.optional && s.type === "bool"))) skip = true;
      }
      if (!skip) out += formatConfigLine(s.name, s.type, value) + "\n";
    }
    for (const c of n.children) walk(c);
  };
  for (const c of ev.model.root.children) walk(c);
  return out;
}
