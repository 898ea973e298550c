/**
 * A free TCP port on the loopback interface, for a server kiln starts (QEMU's gdb stub): the
 * kernel picks one (listen on port 0), kiln closes its socket and hands the number on. Another
 * process could take it in between; QEMU then fails to start and says so.
 */
import { createServer } from "node:net";
import { InfraError } from "../errors.js";

export async function freeLoopbackPort(): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const s = createServer();
    s.once("error", (e) => reject(new InfraError(`cannot find a free loopback port: ${e.message}`)));
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      const port = typeof a === "object" && a ? a.port : 0;
      s.close(() => (port ? resolve(port) : reject(new InfraError("cannot find a free loopback port"))));
    });
  });
}

/** Pure: whether /proc/net/tcp text has a socket listening on 127.0.0.1:<port> (state 0A). */
export function listensIn(procNetTcp: string, port: number): boolean {
  const want = `0100007F:${port.toString(16).toUpperCase().padStart(4, "0")}`;
  return procNetTcp.split("\n").some((l) => {
    const f = l.trim().split(/\s+/);
    return f[1] === want && f[3] === "0A";
  });
}

/**
 * Waits until something listens on 127.0.0.1:<port>, watching /proc/net/tcp (no connection is
 * made: QEMU's gdb stub takes one client). Resolves false when `alive()` turns false or the time is up.
 */
export async function waitListening(port: number, o: { timeoutMs: number; alive: () => boolean }): Promise<boolean> {
  const { readFileSync } = await import("node:fs");
  const end = Date.now() + o.timeoutMs;
  while (Date.now() < end && o.alive()) {
    if (listensIn(readFileSync("/proc/net/tcp", "utf8"), port)) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}
