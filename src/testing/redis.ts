/**
 * Test helper: a throw-away `redis-server` on a free loopback port, without persistence.
 * Tests that need it skip (with a message) where Debian's redis-server is not installed
 * (`tools/install-redis.sh` installs it when it can).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createServer, Socket } from "node:net";

/** The redis-server binary, or undefined. */
export function redisServerPath(): string | undefined {
  for (const p of [process.env.PATHLENS_REDIS_SERVER, "/usr/bin/redis-server", "/usr/local/bin/redis-server"])
    if (p && existsSync(p)) return p;
  return undefined;
}

/** A free TCP port on 127.0.0.1 (asked from the kernel). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** A running redis-server: its URL and how to stop it. */
export interface RedisServer {
  url: string;
  port: number;
  stop(): Promise<void>;
}

async function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = new Socket();
    sock.setTimeout(500);
    sock.once("data", (d) => {
      sock.destroy();
      resolve(d.toString().startsWith("+PONG"));
    });
    sock.once("error", () => resolve(false));
    sock.once("timeout", () => {
      sock.destroy();
      resolve(false);
    });
    sock.connect(port, "127.0.0.1", () => sock.write("PING\r\n"));
  });
}

/** Starts redis-server on a free loopback port (no RDB/AOF files) and waits until it answers PING. */
export async function startRedis(binary: string): Promise<RedisServer> {
  const port = await freePort();
  const p: ChildProcess = spawn(
    binary,
    [
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--save",
      "",
      "--appendonly",
      "no",
      "--protected-mode",
      "yes",
    ],
    { stdio: "ignore" },
  );
  const deadline = Date.now() + 10_000;
  while (!(await answers(port))) {
    if (p.exitCode !== null || Date.now() > deadline) {
      p.kill("SIGKILL");
      throw new Error(`redis-server did not start on port ${port}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    stop: () =>
      new Promise<void>((resolve) => {
        if (p.exitCode !== null) return resolve();
        p.once("exit", () => resolve());
        p.kill("SIGTERM");
      }),
  };
}
