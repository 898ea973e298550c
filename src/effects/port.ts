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
